"""The typed stack model every orchestrator adapter consumes.

Compose allows several spellings of the same thing (list or mapping environments, short
or long port and volume syntax, ...); normalization turns them into one. Keys the model
does not type are kept in ``extras`` so converters can report them instead of dropping
them silently.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import Any, Literal

from pydantic import BaseModel, Field

Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]


class PortMapping(BaseModel):
    target: int
    published: int | None = None
    host_ip: str | None = None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"

    def short(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        published = f"{self.published}:" if self.published is not None else ""
        return f"{host}{published}{self.target}/{self.protocol}"


class VolumeMount(BaseModel):
    type: Literal["volume", "bind", "tmpfs"]
    target: str
    source: str | None = None
    read_only: bool = False


class Healthcheck(BaseModel):
    test: list[str] = Field(default_factory=list)
    interval: float | None = None
    timeout: float | None = None
    start_period: float | None = None
    retries: int | None = None
    disable: bool = False


class Resources(BaseModel):
    cpus: float | None = None
    memory: int | None = None


class UpdatePolicy(BaseModel):
    parallelism: int | None = None
    delay: float | None = None
    failure_action: str | None = None
    order: str | None = None
    monitor: float | None = None
    max_failure_ratio: float | None = None


class RestartPolicy(BaseModel):
    condition: str | None = None
    delay: float | None = None
    max_attempts: int | None = None
    window: float | None = None


class Deploy(BaseModel):
    mode: str | None = None
    replicas: int | None = None
    limits: Resources = Field(default_factory=Resources)
    reservations: Resources = Field(default_factory=Resources)
    update_config: UpdatePolicy | None = None
    rollback_config: UpdatePolicy | None = None
    restart_policy: RestartPolicy | None = None
    placement_constraints: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class FileRef(BaseModel):
    """A service's reference to a top-level config or secret."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


class Service(BaseModel):
    name: str
    image: str | None = None
    build: dict[str, Any] | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = Field(default_factory=dict)
    ports: list[PortMapping] = Field(default_factory=list)
    expose: list[str] = Field(default_factory=list)
    volumes: list[VolumeMount] = Field(default_factory=list)
    depends_on: dict[str, Condition] = Field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    restart: str | None = None
    deploy: Deploy = Field(default_factory=Deploy)
    labels: dict[str, str] = Field(default_factory=dict)
    networks: dict[str, list[str]] = Field(
        default_factory=dict, description="network name -> aliases"
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
    devices: list[Any] = Field(default_factory=list)
    tmpfs: list[str] = Field(default_factory=list)
    configs: list[FileRef] = Field(default_factory=list)
    secrets: list[FileRef] = Field(default_factory=list)
    hostname: str | None = None
    extra_hosts: list[str] = Field(default_factory=list)
    stop_grace_period: float | None = None
    logging: dict[str, Any] | None = None
    ulimits: dict[str, Any] = Field(default_factory=dict)
    profiles: list[str] = Field(default_factory=list)
    extras: dict[str, Any] = Field(
        default_factory=dict, description="Schema-valid keys the model does not type"
    )


class NetworkSpec(BaseModel):
    driver: str | None = None
    external: bool = False
    name: str | None = None
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict)


class VolumeSpec(BaseModel):
    driver: str | None = None
    external: bool = False
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict)


class FileSpec(BaseModel):
    """A top-level config or secret definition."""

    file: str | None = None
    content: str | None = None
    environment: str | None = None
    external: bool = False
    name: str | None = None


class Stack(BaseModel):
    name: str
    services: dict[str, Service]
    networks: dict[str, NetworkSpec] = Field(default_factory=dict)
    volumes: dict[str, VolumeSpec] = Field(default_factory=dict)
    configs: dict[str, FileSpec] = Field(default_factory=dict)
    secrets: dict[str, FileSpec] = Field(default_factory=dict)
    extensions: dict[str, Any] = Field(default_factory=dict)


def config_hash(service: Service) -> str:
    """Stable hash of a service's normalized definition: equal hash, nothing to recreate."""
    canonical = json.dumps(service.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def split_command(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(part) for part in value]
