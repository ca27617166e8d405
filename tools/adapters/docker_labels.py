"""Compose-compatible names and labels of what WindFlow creates on a Docker engine.

Containers, networks and volumes carry the labels docker compose itself writes, so
``docker compose ls``/``ps`` and dashboards recognise WindFlow's stacks, plus
``dev.windflow.*`` labels that let WindFlow find its own objects and recover a service's
definition (to scale or restart it) without a database. The Swarm adapter reuses these.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from tools.stack import Service, Stack, config_hash

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
CONFIG_HASH = "com.docker.compose.config-hash"
ONEOFF = "com.docker.compose.oneoff"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
MANAGED = "dev.windflow.managed"
SPEC = "dev.windflow.service-spec"
# Engine names of the networks, volumes and peer containers a service uses.
RESOURCES = "dev.windflow.resources"
# A created-but-never-started container that keeps a service scaled to 0 known to the
# engine: without it the definition would be gone and scaling back up impossible.
PLACEHOLDER = "dev.windflow.scaled-to-zero"
# Marks an old container renamed aside while its replacement starts; a crash between
# the two steps leaves it behind, and the next deploy or remove cleans it up.
ASIDE_MARKER = "_windflow_replaced_"


def project_filter(stack: str, service: str | None = None) -> dict[str, list[str]]:
    """``filters=`` for the Engine API's list calls."""
    labels = [f"{PROJECT}={stack}"]
    if service is not None:
        labels.append(f"{SERVICE}={service}")
    return {"label": labels}


def container_name(stack: str, service: Service, number: int) -> str:
    explicit = service.extras.get("container_name")
    if explicit and number == 1:
        return str(explicit)
    return f"{stack}-{service.name}-{number}"


def network_name(stack: Stack, key: str) -> str:
    declared = stack.networks.get(key)
    if declared is not None and (declared.external or declared.name):
        return declared.name or key
    return f"{stack.name}_{key}"


def volume_name(stack: Stack, key: str) -> str:
    declared = stack.volumes.get(key)
    if declared is not None and (declared.external or declared.name):
        return declared.name or key
    return f"{stack.name}_{key}"


def service_labels(
    stack: str, service: Service, number: int, *, placeholder: bool = False
) -> dict[str, str]:
    labels = {
        **service.labels,
        PROJECT: stack,
        SERVICE: service.name,
        NUMBER: str(number),
        CONFIG_HASH: config_hash(service),
        ONEOFF: "False",
        MANAGED: "true",
        SPEC: encode_spec(service),
    }
    if placeholder:
        labels[PLACEHOLDER] = "true"
    return labels


def network_labels(stack: str, key: str, extra: Mapping[str, str]) -> dict[str, str]:
    return {**extra, PROJECT: stack, NETWORK: key, MANAGED: "true"}


def volume_labels(stack: str, key: str, extra: Mapping[str, str]) -> dict[str, str]:
    return {**extra, PROJECT: stack, VOLUME: key, MANAGED: "true"}


def encode_spec(service: Service) -> str:
    return json.dumps(service.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def decode_spec(label: str | None) -> Service | None:
    """The service definition a container was created from; None if it is not readable."""
    if not label:
        return None
    text = label
    if not label.startswith("{"):  # containers from before the label was plain JSON
        try:
            text = base64.b64decode(label).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    try:
        return Service.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        return None


def is_current(labels: Mapping[str, str], service: Service) -> bool:
    return labels.get(CONFIG_HASH) == config_hash(service)


def number_of(labels: Mapping[str, str]) -> int:
    try:
        return int(labels.get(NUMBER, "1"))
    except ValueError:
        return 1


def changed_fields(old: Service | None, new: Service) -> list[str]:
    """Top-level settings that differ, so an approver sees why a service is recreated."""
    if old is None:
        return []
    # Same scope as config_hash: extensions (x-* keys) never cause a recreate.
    before: dict[str, Any] = old.model_dump(mode="json", exclude={"extensions"})
    after: dict[str, Any] = new.model_dump(mode="json", exclude={"extensions"})
    return sorted(key for key in after.keys() | before.keys() if before.get(key) != after.get(key))
