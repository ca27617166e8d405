"""From a stack ``Service`` to Docker Engine container settings, with compose's labels.

What the Engine API cannot express for a single host (configs, secrets, builds) is
reported by :func:`unsupported`, so a deploy refuses up front instead of dropping it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from docker.types import Mount, Ulimit

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

RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}
# Keys of ``Service.extras`` that change nothing on a single engine.
HARMLESS_EXTRAS = {"container_name", "stdin_open", "tty", "init", "platform", "pull_policy"}


def unsupported(stack: Stack) -> list[str]:
    problems: list[str] = []
    for name, service in stack.services.items():
        if service.image is None:
            problems.append(f"{name}: no image (building images is not supported; push one)")
        if service.configs or service.secrets:
            problems.append(f"{name}: configs/secrets need a Swarm or Kubernetes target")
        for key in sorted(set(service.extras) - HARMLESS_EXTRAS):
            problems.append(f"{name}: '{key}' is not supported on a Docker host target")
        if service.restart and service.restart.split(":")[0] not in RESTART_POLICIES:
            problems.append(f"{name}: unknown restart policy {service.restart!r}")
        if service.profiles:
            problems.append(f"{name}: profiles are not supported; remove or drop the service")
    if stack.configs or stack.secrets:
        problems.append("top-level configs/secrets need a Swarm or Kubernetes target")
    return problems


def network_name(stack: Stack, network: str) -> str:
    spec = stack.networks.get(network)
    if spec is not None and (spec.external or spec.name):
        return spec.name or network
    return f"{stack.name}_{network}"


def volume_name(stack: Stack, volume: str) -> str:
    spec = stack.volumes.get(volume)
    if spec is not None and (spec.external or spec.name):
        return spec.name or volume
    return f"{stack.name}_{volume}"


def service_networks(service: Service) -> dict[str, list[str]]:
    if service.network_mode:
        return {}
    return service.networks or {"default": []}


def container_name(stack: str, service: str, number: int) -> str:
    return f"{stack}-{service}-{number}"


def encode_spec(service: Service) -> str:
    return base64.b64encode(json.dumps(service.model_dump(mode="json")).encode()).decode()


def decode_spec(label: str) -> Service:
    return Service.model_validate(json.loads(base64.b64decode(label)))


def _nanos(seconds: float | None) -> int | None:
    return int(seconds * 1_000_000_000) if seconds is not None else None


def create_kwargs(stack: Stack, service: Service, number: int) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``, without networks beyond the first."""
    labels = {
        **service.labels,
        PROJECT: stack.name,
        SERVICE: service.name,
        NUMBER: str(number),
        CONFIG_HASH: config_hash(service),
        ONEOFF: "False",
        MANAGED: "true",
        SPEC: encode_spec(service),
    }
    kwargs: dict[str, Any] = {
        "image": service.image,
        "name": container_name(stack.name, service.name, number),
        "labels": labels,
        "detach": True,
        "environment": {k: v for k, v in service.environment.items() if v is not None},
        "hostname": service.hostname,
        "user": service.user,
        "working_dir": service.working_dir,
        "read_only": service.read_only,
        "privileged": service.privileged,
        "cap_add": service.cap_add or None,
        "cap_drop": service.cap_drop or None,
        "security_opt": service.security_opt or None,
        "pid_mode": service.pid,
        "ipc_mode": service.ipc,
        "devices": [d for d in service.devices if isinstance(d, str)] or None,
        "log_config": service.logging,
    }
    if service.command is not None:
        kwargs["command"] = service.command
    if service.entrypoint is not None:
        kwargs["entrypoint"] = service.entrypoint
    if service.ports:
        kwargs["ports"] = {
            f"{p.target}/{p.protocol}": (p.host_ip, p.published) if p.host_ip else p.published
            for p in service.ports
        }
    mounts = [
        Mount(
            target=v.target,
            source=volume_name(stack, v.source) if v.type == "volume" and v.source else v.source,
            type=v.type,
            read_only=v.read_only,
        )
        for v in service.volumes
    ]
    if mounts:
        kwargs["mounts"] = mounts
    if service.tmpfs:
        kwargs["tmpfs"] = {path: "" for path in service.tmpfs}
    check = service.healthcheck
    if check is not None:
        kwargs["healthcheck"] = (
            {"test": ["NONE"]}
            if check.disable
            else {
                "test": check.test,
                "interval": _nanos(check.interval),
                "timeout": _nanos(check.timeout),
                "retries": check.retries,
                "start_period": _nanos(check.start_period),
            }
        )
    if service.restart:
        name, _, retries = service.restart.partition(":")
        policy: dict[str, Any] = {"Name": "" if name == "no" else name}
        if retries:
            policy["MaximumRetryCount"] = int(retries)
        kwargs["restart_policy"] = policy
    limits, reservations = service.deploy.limits, service.deploy.reservations
    if limits.cpus:
        kwargs["nano_cpus"] = int(limits.cpus * 1_000_000_000)
    if limits.memory:
        kwargs["mem_limit"] = limits.memory
    if reservations.memory:
        kwargs["mem_reservation"] = reservations.memory
    if service.extra_hosts:
        kwargs["extra_hosts"] = dict(h.split(":", 1) for h in service.extra_hosts)
    if service.ulimits:
        kwargs["ulimits"] = [
            Ulimit(name=n, soft=v, hard=v)
            if isinstance(v, int)
            else Ulimit(name=n, soft=v.get("soft"), hard=v.get("hard"))
            for n, v in service.ulimits.items()
        ]
    if service.network_mode:
        kwargs["network_mode"] = service.network_mode
    return {k: v for k, v in kwargs.items() if v is not None}


def replicas(service: Service) -> int:
    return service.deploy.replicas if service.deploy.replicas is not None else 1
