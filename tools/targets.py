"""What a target is to the adapters: its kind, environment and typed connection settings.

The API stores ``connection`` (public) and ``secrets`` (encrypted) per target; this module
validates both per kind so that a typo is rejected when the target is saved, not when a
deploy runs at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from windflow.errors import InvalidInput


class TargetKind(StrEnum):
    DOCKER = "docker"
    SWARM = "swarm"
    KUBERNETES = "kubernetes"
    VAGRANT = "vagrant"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DockerConnection(_Strict):
    host: str | None = Field(
        default=None,
        description="Engine endpoint: unix:///var/run/docker.sock, tcp://HOST:2376 or ssh://USER@HOST;"
        " the server's default engine when unset",
        pattern=r"^(unix|tcp|ssh|npipe)://.+",
    )
    tls_verify: bool = False


class KubernetesConnection(_Strict):
    api_url: str | None = Field(default=None, pattern=r"^https?://.+")
    namespace: str = Field(default="default", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    verify_tls: bool = True
    context: str | None = Field(default=None, description="kubeconfig context to use")


class VagrantConnection(_Strict):
    provider: str = Field(default="libvirt", pattern=r"^[a-z][a-z0-9_-]*$")
    box: str = "debian/bookworm64"
    cpus: int = Field(default=2, ge=1, le=64)
    memory_mb: int = Field(default=2048, ge=256, le=262144)
    private_ip: str | None = None
    workdir: str | None = Field(default=None, description="Folder for the generated Vagrantfile")
    docker_host: str | None = Field(
        default=None, description="Engine for the docker provider", pattern=r"^(unix|tcp)://.+"
    )


class KubernetesSecrets(_Strict):
    token: str | None = None
    kubeconfig: str | None = None
    ca_cert: str | None = None


class DockerSecrets(_Strict):
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


class NoSecrets(_Strict):
    pass


_CONNECTIONS: dict[TargetKind, type[_Strict]] = {
    TargetKind.DOCKER: DockerConnection,
    TargetKind.SWARM: DockerConnection,
    TargetKind.KUBERNETES: KubernetesConnection,
    TargetKind.VAGRANT: VagrantConnection,
}
_SECRETS: dict[TargetKind, type[_Strict]] = {
    TargetKind.DOCKER: DockerSecrets,
    TargetKind.SWARM: DockerSecrets,
    TargetKind.KUBERNETES: KubernetesSecrets,
    TargetKind.VAGRANT: NoSecrets,
}


def parse_kind(kind: str) -> TargetKind:
    try:
        return TargetKind(kind)
    except ValueError as exc:
        raise InvalidInput(
            f"unknown target kind {kind!r}",
            hint=f"use one of: {', '.join(k.value for k in TargetKind)}",
        ) from exc


def _validate(model: type[_Strict], data: dict[str, Any], what: str, kind: TargetKind) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or what}: {err['msg']}" for err in exc.errors()
        )
        allowed = ", ".join(model.model_fields)
        raise InvalidInput(
            f"invalid {what} for a {kind.value} target: {problems}",
            hint=f"allowed fields: {allowed or 'none'}",
        ) from exc


def validate_connection(kind: TargetKind, connection: dict[str, Any]) -> dict[str, Any]:
    model = _validate(_CONNECTIONS[kind], connection, "connection", kind)
    return dict(model.model_dump(exclude_none=True))


def validate_secrets(kind: TargetKind, secrets: dict[str, Any]) -> dict[str, str]:
    model = _validate(_SECRETS[kind], secrets, "secrets", kind)
    return {k: str(v) for k, v in model.model_dump(exclude_none=True).items()}


@dataclass(frozen=True)
class TargetSpec:
    """A target as adapters see it: decrypted secrets included, never serialized out."""

    id: str
    org_id: str
    name: str
    kind: TargetKind
    environment: str
    connection: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
