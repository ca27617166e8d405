"""One adapter per target, built from its spec; imports of heavy SDKs happen only here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.targets import TargetKind, TargetSpec
from windflow.settings import Settings


@dataclass(frozen=True)
class AdapterOptions:
    """Server-wide defaults the adapters need (from Settings, passed in)."""

    default_docker_host: str | None
    vagrant_root: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> AdapterOptions:
        return cls(
            default_docker_host=settings.docker_host, vagrant_root=settings.data_dir / "vagrant"
        )


def build_adapter(spec: TargetSpec, options: AdapterOptions) -> Any:
    if spec.kind is TargetKind.DOCKER:
        from tools.adapters.docker_host import DockerHostAdapter

        return DockerHostAdapter(spec, default_host=options.default_docker_host)
    if spec.kind is TargetKind.SWARM:
        from tools.adapters.swarm import SwarmAdapter

        return SwarmAdapter(spec, default_host=options.default_docker_host)
    if spec.kind is TargetKind.KUBERNETES:
        from tools.adapters.kubernetes import KubernetesAdapter

        return KubernetesAdapter(spec)
    from tools.adapters.vagrant import VagrantAdapter

    return VagrantAdapter(
        spec,
        workdir_root=options.vagrant_root,
        docker_host=spec.connection.get("docker_host") or options.default_docker_host,
    )
