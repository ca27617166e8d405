"""`windflow ask --yes` with a (scripted) model on the real Docker engine: a mutation is
approved automatically, a destructive change is refused with exit code 5 and stays pending."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pexpect
import pytest

from assistant.scripted import ScriptedModel, call, say
from tests.adapters.test_docker_host import ids
from tests.assistant.test_scripted_deploy import TWO_SERVICES
from tests.channels.conftest import World, seed
from tests.channels.test_cli_ask import WINDFLOW
from tests.databases import SqliteDatabases
from tests.infra.docker_engine import DockerEngine
from tests.live_server import LiveServer, test_settings


@pytest.fixture
def modelled(
    sqlite_databases: SqliteDatabases,
    docker_engine: DockerEngine,
    model: ScriptedModel,
    tmp_path: Path,
) -> Iterator[World]:
    settings = test_settings(
        sqlite_databases.fresh(), tmp_path / "data", llm_model=model.model_name
    )
    with LiveServer(settings) as server:
        yield asyncio.run(seed(server, docker_engine.host))


def _ask(world: World, text: str, home: Path) -> tuple[int, str]:
    child = pexpect.spawn(
        WINDFLOW,
        ["ask", "--yes", "--server", world.server.url, "--token", world.token, text],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1"},
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 160),
    )
    output = child.read()
    child.close()
    return int(child.exitstatus), output


@pytest.mark.docker
def test_yes_approves_a_deploy_but_refuses_a_destructive_removal(
    modelled: World, model: ScriptedModel, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    stack = f"yes{uuid.uuid4().hex[:8]}"
    target = "docker-local"
    model.script(
        call("deploy_stack", target=target, stack=stack, compose=TWO_SERVICES),
        say(f"Deployed {stack}."),
        call("remove_stack", target=target, stack=stack),
    )
    try:
        code, output = _ask(modelled, f"deploy {stack}", tmp_path)
        assert code == 0, output
        assert "Approval needed: deploy_stack" in output and f"Deployed {stack}." in output
        assert set(ids(docker_engine, stack)) == {"db", "api"}

        code, output = _ask(modelled, f"remove {stack}", tmp_path)
        assert code == 5, output
        assert "--yes does not approve destructive changes" in " ".join(output.split())
        assert set(ids(docker_engine, stack)) == {"db", "api"}  # nothing was removed
        pending = httpx.get(
            f"{modelled.server.url}/approvals",
            headers={"Authorization": f"Bearer {modelled.token}"},
            params={"status": "pending"},
        ).json()["items"]
        assert [(a["tool"], a["risk"]) for a in pending] == [("remove_stack", "destructive")]
    finally:
        with contextlib.closing(docker_engine.client()) as client:
            for container in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={stack}"}
            ):
                container.remove(force=True)
