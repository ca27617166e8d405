"""Session-wide real engines for tests: started on first use, stopped at the end of the session.

Register once (tests/conftest.py)::

    pytest_plugins = ["tests.infra.fixtures"]

Fixtures (all session-scoped; an engine that cannot start skips the test, or fails it when
``CI=true``; see :mod:`tests.infra.availability`):

- ``docker_engine`` -> :class:`DockerEngine`: own dockerd on ``docker_engine.host``
  (``unix://...``), image ``windflow-test/busybox:1`` imported, ports published on 127.0.0.1.
- ``swarm_engine`` -> the same engine, a single-node swarm manager; left at session end.
- ``kube_api`` -> :class:`KubeApiServer`: etcd + kube-apiserver + controller-manager +
  scheduler; ``.url``, ``.token``, ``.api_client()``.
- ``vagrant_ready`` -> path of a vagrant that runs (starts no engine).
- ``vagrant_docker`` -> :class:`VagrantDocker`: vagrant whose docker provider drives
  ``docker_engine`` (``.env()`` carries ``DOCKER_HOST``).

Engines are shared by the whole session: tests name their containers, stacks and namespaces
uniquely and remove what they create. Tests using a fixture get the matching marker
(``docker``, ``kubernetes``, ``vagrant``), so ``-m "not kubernetes"`` deselects them.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator

import pytest
from docker.errors import DockerException

from tests.infra import vagrant_env
from tests.infra.availability import require
from tests.infra.docker_engine import DockerEngine, EngineError
from tests.infra.docker_engine import missing_prerequisite as missing_docker
from tests.infra.kubernetes_api import ControlPlaneError, KubeApiServer
from tests.infra.kubernetes_api import missing_prerequisite as missing_kube
from tests.infra.vagrant_env import VagrantDocker

MARKERS = {
    "docker_engine": "docker",
    "swarm_engine": "docker",
    "kube_api": "kubernetes",
    "vagrant_ready": "vagrant",
    "vagrant_docker": "vagrant",
}
_timings: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "docker: needs a real Docker engine",
        "kubernetes: needs a real kube-apiserver",
        "vagrant: needs vagrant",
    ):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        for marker in sorted({MARKERS[name] for name in names if name in MARKERS}):
            item.add_marker(marker)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _timings:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _timings.items())
        terminalreporter.write_line(f"real engines: {parts}")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    reason = missing_docker()
    if reason:
        require("Docker engine", reason)
    started = time.monotonic()
    engine = DockerEngine()
    try:
        engine.start()
    except (EngineError, DockerException, OSError, RuntimeError) as exc:
        engine.stop()
        require("Docker engine", str(exc))
    _timings["docker start"] = time.monotonic() - started
    try:
        yield engine
    finally:
        started = time.monotonic()
        engine.stop()
        _timings["docker stop"] = time.monotonic() - started


@pytest.fixture(scope="session")
def swarm_engine(docker_engine: DockerEngine) -> Iterator[DockerEngine]:
    started = time.monotonic()
    try:
        docker_engine.swarm_init()
    except (EngineError, DockerException) as exc:
        with contextlib.suppress(DockerException):
            docker_engine.swarm_leave()
        require("Docker swarm", str(exc))
    _timings["swarm init"] = time.monotonic() - started
    try:
        yield docker_engine
    finally:
        docker_engine.swarm_leave()


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubeApiServer]:
    reason = missing_kube()
    if reason:
        require("Kubernetes API server", reason)
    started = time.monotonic()
    server = KubeApiServer()
    try:
        server.start()
    except (ControlPlaneError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        require("Kubernetes API server", str(exc))
    _timings["kube start"] = time.monotonic() - started
    try:
        yield server
    finally:
        started = time.monotonic()
        server.stop()
        _timings["kube stop"] = time.monotonic() - started


@pytest.fixture(scope="session")
def vagrant_ready() -> str:
    """The vagrant binary, checked to run. Starts no engine (see ``vagrant_docker``)."""
    reason = vagrant_env.missing_prerequisite()
    binary = vagrant_env.vagrant_binary()
    if reason or binary is None:
        require("vagrant", reason or "not installed")
    return binary


@pytest.fixture(scope="session")
def vagrant_docker(
    vagrant_ready: str, docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> VagrantDocker:
    """vagrant with its docker provider on ``docker_engine`` (private VAGRANT_HOME)."""
    reason = vagrant_env.docker_provider_problem(docker_engine)
    if reason:
        require("vagrant docker provider", reason)
    return VagrantDocker(docker_engine, tmp_path_factory.mktemp("vagrant-home"))
