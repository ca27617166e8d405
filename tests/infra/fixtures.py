"""Session-wide real engines, started on first use and stopped at the end."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.infra.availability import unavailable
from tests.infra.docker_engine import DockerEngine, EngineError, missing_prerequisite
from tests.infra.kubernetes_api import ControlPlaneError, KubeApiServer
from tests.infra.kubernetes_api import missing_prerequisite as missing_kube


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    reason = missing_prerequisite()
    if reason:
        unavailable("Docker engine", reason)
    engine = DockerEngine()
    try:
        engine.start()
    except (EngineError, OSError) as exc:
        engine.stop()
        unavailable("Docker engine", str(exc))
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def swarm_engine(docker_engine: DockerEngine) -> Iterator[DockerEngine]:
    docker_engine.swarm_init()
    yield docker_engine
    docker_engine.swarm_leave()


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubeApiServer]:
    reason = missing_kube()
    if reason:
        unavailable("Kubernetes API server", reason)
    server = KubeApiServer()
    try:
        server.start()
    except (ControlPlaneError, OSError, subprocess.CalledProcessError) as exc:
        server.stop()
        unavailable("Kubernetes API server", str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vagrant_ready() -> str:
    """The vagrant binary (its docker provider runs against the ``docker_engine``)."""
    binary = shutil.which("vagrant")
    if binary is None:
        unavailable("vagrant", "not installed (run tests/setup-engines.sh)")
    return binary
