"""Session-wide real engines, started on first use and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra.availability import unavailable
from tests.infra.docker_engine import DockerEngine, EngineError, missing_prerequisite


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
