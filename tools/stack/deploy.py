"""The ``deploy:`` section: replicas, resources, update/rollback and restart policies.

Sizes become bytes and durations seconds, so Swarm and Kubernetes converters compute
with numbers instead of re-parsing compose notation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.stack import extensions
from tools.stack.loader import PathKey
from tools.stack.model import Deploy, Resources, RestartPolicy, UpdatePolicy
from tools.stack.units import labels, parse_bytes, parse_duration, parse_float, parse_int

# convert(parse, value, path): parse(value), None for None, a located error on ValueError.
Convert = Callable[[Callable[[Any], Any], Any, PathKey], Any]


def _policy(raw: dict[str, Any] | None, path: PathKey, convert: Convert) -> UpdatePolicy | None:
    if raw is None:
        return None
    return UpdatePolicy(
        parallelism=convert(parse_int, raw.get("parallelism"), (*path, "parallelism")),
        delay=convert(parse_duration, raw.get("delay"), (*path, "delay")),
        failure_action=raw.get("failure_action"),
        monitor=convert(parse_duration, raw.get("monitor"), (*path, "monitor")),
        max_failure_ratio=convert(
            parse_float, raw.get("max_failure_ratio"), (*path, "max_failure_ratio")
        ),
        order=raw.get("order"),
    )


def _resources(raw: dict[str, Any] | None, path: PathKey, convert: Convert) -> Resources:
    raw = raw or {}
    return Resources(
        cpus=convert(parse_float, raw.get("cpus"), (*path, "cpus")),
        memory=convert(parse_bytes, raw.get("memory"), (*path, "memory")),
        pids=convert(parse_int, raw.get("pids"), (*path, "pids")),
        devices=extensions.without(raw.get("devices") or []),
        generic_resources=extensions.without(raw.get("generic_resources") or []),
    )


def _restart(raw: dict[str, Any] | None, path: PathKey, convert: Convert) -> RestartPolicy | None:
    if raw is None:
        return None
    return RestartPolicy(
        condition=raw.get("condition"),
        delay=convert(parse_duration, raw.get("delay"), (*path, "delay")),
        max_attempts=convert(parse_int, raw.get("max_attempts"), (*path, "max_attempts")),
        window=convert(parse_duration, raw.get("window"), (*path, "window")),
    )


def normalize_deploy(raw: dict[str, Any] | None, path: PathKey, convert: Convert) -> Deploy:
    raw = raw or {}
    resources = raw.get("resources") or {}
    placement = raw.get("placement") or {}
    return Deploy(
        mode=raw.get("mode"),
        replicas=convert(parse_int, raw.get("replicas"), (*path, "replicas")),
        endpoint_mode=raw.get("endpoint_mode"),
        limits=_resources(resources.get("limits"), (*path, "resources", "limits"), convert),
        reservations=_resources(
            resources.get("reservations"), (*path, "resources", "reservations"), convert
        ),
        update_config=_policy(raw.get("update_config"), (*path, "update_config"), convert),
        rollback_config=_policy(raw.get("rollback_config"), (*path, "rollback_config"), convert),
        restart_policy=_restart(raw.get("restart_policy"), (*path, "restart_policy"), convert),
        placement_constraints=list(placement.get("constraints") or []),
        placement_preferences=[p.get("spread", "") for p in placement.get("preferences") or []],
        max_replicas_per_node=convert(
            parse_int,
            placement.get("max_replicas_per_node"),
            (*path, "placement", "max_replicas_per_node"),
        ),
        labels=labels(raw.get("labels")),
    )
