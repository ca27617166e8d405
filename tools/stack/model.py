"""The typed stack model every orchestrator adapter consumes.

Compose allows several spellings of one thing (list or mapping environments, short or
long port and volume syntax, "1m30s" or "90s"); normalization turns them into one, so
adapters and ``config_hash`` see equal services as equal. Nothing valid is dropped:
schema-valid keys the model does not type stay in ``extras`` (adapters report them as
unsupported), and ``x-*`` extension keys stay in ``extensions`` (adapters ignore them).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]
Protocol = Literal["tcp", "udp", "sctp"]


class _Model(BaseModel):
    # A misspelt field in an adapter or test should fail loudly, not become a silent no-op.
    model_config = ConfigDict(extra="forbid")


class PortMapping(_Model):
    """One container port; short-syntax ranges are expanded to one mapping per port."""

    target: int
    published: int | None = None
    host_ip: str | None = None
    protocol: Protocol = "tcp"
    mode: Literal["ingress", "host"] | None = None
    name: str | None = None
    app_protocol: str | None = None


class BindOptions(_Model):
    propagation: str | None = None
    create_host_path: bool | None = None
    selinux: Literal["z", "Z"] | None = None
    recursive: str | None = None


class VolumeOptions(_Model):
    nocopy: bool = False
    subpath: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class TmpfsOptions(_Model):
    size: int | None = Field(default=None, description="bytes")
    mode: int | None = None


class VolumeMount(_Model):
    """A mount. Short-syntax binds get ``bind.create_host_path=True``, as compose does."""

    type: Literal["volume", "bind", "tmpfs"]
    target: str
    source: str | None = Field(
        default=None, description="volume name, or host path as written (may be relative)"
    )
    read_only: bool = False
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None


class Healthcheck(_Model):
    """``test`` is ["CMD", ...] or ["CMD-SHELL", "..."]; ["NONE"] becomes ``disable``."""

    test: list[str] = Field(default_factory=list)
    interval: float | None = Field(default=None, description="seconds")
    timeout: float | None = Field(default=None, description="seconds")
    start_period: float | None = Field(default=None, description="seconds")
    start_interval: float | None = Field(default=None, description="seconds")
    retries: int | None = None
    disable: bool = False


class Resources(_Model):
    cpus: float | None = None
    memory: int | None = Field(default=None, description="bytes")
    pids: int | None = None
    devices: list[dict[str, Any]] = Field(default_factory=list, description="reservations only")
    generic_resources: list[dict[str, Any]] = Field(default_factory=list)


class UpdatePolicy(_Model):
    parallelism: int | None = None
    delay: float | None = Field(default=None, description="seconds")
    failure_action: str | None = None
    monitor: float | None = Field(default=None, description="seconds")
    max_failure_ratio: float | None = None
    order: Literal["start-first", "stop-first"] | None = None


class RestartPolicy(_Model):
    condition: str | None = None
    delay: float | None = Field(default=None, description="seconds")
    max_attempts: int | None = None
    window: float | None = Field(default=None, description="seconds")


class Deploy(_Model):
    mode: str | None = None
    replicas: int | None = None
    endpoint_mode: str | None = None
    limits: Resources = Field(default_factory=Resources)
    reservations: Resources = Field(default_factory=Resources)
    update_config: UpdatePolicy | None = None
    rollback_config: UpdatePolicy | None = None
    restart_policy: RestartPolicy | None = None
    placement_constraints: list[str] = Field(default_factory=list)
    placement_preferences: list[str] = Field(
        default_factory=list, description="spread: values, in order"
    )
    max_replicas_per_node: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class FileRef(_Model):
    """A service's reference to a top-level config or secret."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = Field(default=None, description="permission bits, e.g. 0o440")


class DependencyFlags(_Model):
    """The long-syntax depends_on options other than the condition."""

    restart: bool = False
    required: bool = True


class BuildSpec(_Model):
    """Build settings, kept for reporting: WindFlow deploys images, it does not build."""

    context: str = "."
    dockerfile: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="every other build key")


class Service(_Model):
    name: str
    image: str | None = None
    build: BuildSpec | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = Field(
        default_factory=dict, description="env_file contents merged in; None = pass through"
    )
    ports: list[PortMapping] = Field(default_factory=list)
    expose: list[str] = Field(default_factory=list)
    volumes: list[VolumeMount] = Field(default_factory=list)
    depends_on: dict[str, Condition] = Field(default_factory=dict)
    dependency_flags: dict[str, DependencyFlags] = Field(
        default_factory=dict, description="only dependencies with non-default flags"
    )
    healthcheck: Healthcheck | None = None
    restart: str | None = None
    deploy: Deploy = Field(default_factory=Deploy)
    labels: dict[str, str] = Field(default_factory=dict)
    networks: dict[str, list[str]] = Field(
        default_factory=dict, description="network -> aliases; empty means the default network"
    )
    network_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-network settings other than aliases"
    )
    user: str | None = None
    working_dir: str | None = None
    read_only: bool = False
    privileged: bool = False
    cap_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(default_factory=list)
    security_opt: list[str] = Field(default_factory=list)
    network_mode: str | None = None
    pid: str | None = None
    ipc: str | None = None
    devices: list[str] = Field(default_factory=list, description="HOST[:CONTAINER[:PERMS]]")
    tmpfs: list[str] = Field(default_factory=list)
    configs: list[FileRef] = Field(default_factory=list)
    secrets: list[FileRef] = Field(default_factory=list)
    hostname: str | None = None
    extra_hosts: list[str] = Field(default_factory=list, description="HOST:IP")
    stop_grace_period: float | None = Field(default=None, description="seconds")
    logging: dict[str, Any] | None = None
    ulimits: dict[str, int | dict[str, int]] = Field(
        default_factory=dict, description="name -> limit, or {soft, hard}"
    )
    profiles: list[str] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(
        default_factory=dict,
        description="x-* keys by JSON pointer into the service, e.g. /x-team, /deploy/x-cost",
    )
    extras: dict[str, Any] = Field(
        default_factory=dict, description="schema-valid keys the model does not type, as given"
    )


class NetworkSpec(_Model):
    driver: str | None = None
    external: bool = False
    name: str | None = None
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict, description="driver_opts, ipam, x-*...")


class VolumeSpec(_Model):
    driver: str | None = None
    external: bool = False
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict, description="driver_opts, x-*...")


class FileSpec(_Model):
    """A top-level config or secret definition; ``file`` is relative as written."""

    file: str | None = None
    content: str | None = None
    environment: str | None = None
    external: bool = False
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict, description="driver, x-*...")


class Stack(_Model):
    name: str
    services: dict[str, Service]
    networks: dict[str, NetworkSpec] = Field(default_factory=dict)
    volumes: dict[str, VolumeSpec] = Field(default_factory=dict)
    configs: dict[str, FileSpec] = Field(default_factory=dict)
    secrets: dict[str, FileSpec] = Field(default_factory=dict)
    extensions: dict[str, Any] = Field(default_factory=dict, description="top-level x-* keys")
    extras: dict[str, Any] = Field(
        default_factory=dict, description="other top-level keys: the file's own name:, models:"
    )


def config_hash(service: Service) -> str:
    """sha256 of the canonical JSON of a normalized service: equal hash, nothing to redo.

    Only the service itself counts: a changed secret file or network definition it uses
    does not change the hash, and neither does anything in ``extensions``.
    """
    data = service.model_dump(mode="json", exclude={"extensions"})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
