"""Connectivity checks: can WindFlow reach a target's orchestrator, and what runs there."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from typing import Any

from tools.targets import TargetKind, TargetSpec


@dataclass(frozen=True)
class CheckResult:
    reachable: bool
    detail: str
    version: str | None = None
    latency_ms: float = 0.0


def _docker(spec: TargetSpec, default_host: str | None) -> CheckResult:
    import docker
    from docker.errors import DockerException

    host = spec.connection.get("host") or default_host
    try:
        client = (
            docker.DockerClient(base_url=host, timeout=5) if host else docker.from_env(timeout=5)
        )
        try:
            version = client.version()
            if spec.kind is TargetKind.SWARM:
                swarm = client.info().get("Swarm", {})
                if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
                    return CheckResult(
                        False,
                        "the engine answers but is not a Swarm manager",
                        version.get("Version"),
                    )
        finally:
            client.close()
    except DockerException as exc:
        return CheckResult(False, f"cannot reach the Docker engine at {host or 'default'}: {exc}")
    return CheckResult(True, "Docker engine answered", str(version.get("Version")))


def _kubernetes(spec: TargetSpec) -> CheckResult:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    config = k8s.Configuration()
    config.host = spec.connection.get("api_url") or ""
    config.verify_ssl = bool(spec.connection.get("verify_tls", True))
    if not config.host:
        return CheckResult(False, "no api_url configured for this Kubernetes target")
    token = spec.secrets.get("token")
    if token:
        config.api_key = {"authorization": f"Bearer {token}"}
    config.retries = 0
    api = k8s.ApiClient(config)
    try:
        info: Any = k8s.VersionApi(api).get_code(_request_timeout=5)
    except (ApiException, HTTPError, OSError) as exc:
        return CheckResult(False, f"cannot reach the Kubernetes API at {config.host}: {exc}")
    finally:
        api.close()
    return CheckResult(True, "Kubernetes API answered", str(info.git_version))


def _vagrant(spec: TargetSpec) -> CheckResult:
    import subprocess

    binary = shutil.which("vagrant")
    if binary is None:
        return CheckResult(False, "vagrant is not installed on the WindFlow server")
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return CheckResult(False, f"vagrant did not answer: {exc}")
    return CheckResult(
        True,
        f"vagrant is installed (provider {spec.connection.get('provider')})",
        done.stdout.strip(),
    )


async def check(spec: TargetSpec, *, default_docker_host: str | None = None) -> CheckResult:
    started = time.perf_counter()
    if spec.kind in (TargetKind.DOCKER, TargetKind.SWARM):
        result = await asyncio.to_thread(_docker, spec, default_docker_host)
    elif spec.kind is TargetKind.KUBERNETES:
        result = await asyncio.to_thread(_kubernetes, spec)
    else:
        result = await asyncio.to_thread(_vagrant, spec)
    return CheckResult(
        result.reachable,
        result.detail,
        result.version,
        round((time.perf_counter() - started) * 1000, 1),
    )
