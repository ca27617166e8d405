"""WindFlow's tools over MCP with a real client session (the `mcp` package's ClientSession),
over stdio against `windflow mcp` and over streamable HTTP against the live server's /mcp:
tools listed with schemas, a read tool answers, a mutation needs an approval, the approved
call runs once on the real Docker engine, a reused or mismatched approval is refused."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.adapters.test_docker_host import ids
from tests.assistant.test_scripted_deploy import TWO_SERVICES
from tests.channels.conftest import World
from tests.infra.docker_engine import DockerEngine

WINDFLOW = str(Path(sys.executable).with_name("windflow"))


@contextlib.asynccontextmanager
async def http_session(world: World, token: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{world.server.url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def stdio_session(world: World, token: str) -> AsyncIterator[ClientSession]:
    settings = world.server.settings
    env = {
        "WINDFLOW_ENVIRONMENT": "test",
        "WINDFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
        "WINDFLOW_DATA_DIR": str(settings.data_dir),
        "WINDFLOW_DATABASE_URL": settings.resolved_database_url,
        "WINDFLOW_KNOWLEDGE_ENABLED": "false",
    }
    params = StdioServerParameters(command=WINDFLOW, args=["mcp", "--token", token], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


SESSIONS = {"stdio": stdio_session, "http": http_session}


def _cleanup(engine: DockerEngine, stack: str) -> None:
    with contextlib.closing(engine.client()) as client:
        for container in client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={stack}"}
        ):
            container.remove(force=True)


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.docker
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_mcp_lists_reads_and_runs_an_approved_change_once(
    world: World, docker_engine: DockerEngine, transport: str
) -> None:
    stack = f"mcp{uuid.uuid4().hex[:8]}"
    deploy = {"target": "docker-local", "stack": stack, "compose": TWO_SERVICES}
    api = httpx.AsyncClient(
        base_url=world.server.url, headers={"Authorization": f"Bearer {world.token}"}, timeout=30
    )
    try:
        async with api, SESSIONS[transport](world, world.token) as session:
            listed = {t.name: t for t in (await session.list_tools()).tools}
            assert {"saved_stacks", "deploy_stack", "stack_status"} <= set(listed)
            schema = listed["deploy_stack"].input_schema
            assert {"stack", "compose", "target", "approval_id"} <= set(schema["properties"])
            assert "Needs a person's approval" in (listed["deploy_stack"].description or "")
            assert "approval_id" not in listed["saved_stacks"].input_schema["properties"]

            saved = await api.post(
                "/stacks", json={"name": f"s{stack}", "compose_source": TWO_SERVICES}
            )
            assert saved.status_code == 201, saved.text
            read = await session.call_tool("saved_stacks", {})
            assert not read.is_error, _text(read)
            assert read.structured_content is not None
            assert read.structured_content["status"] == "ok"
            assert f"s{stack}" in [s["name"] for s in read.structured_content["data"]["stacks"]]

            proposed = await session.call_tool("deploy_stack", deploy)
            assert not proposed.is_error, _text(proposed)
            envelope = proposed.structured_content or {}
            assert envelope["status"] == "approval_required" and envelope["plan"]["summary"]
            approval_id = envelope["approval_id"]
            assert approval_id in _text(proposed)
            assert ids(docker_engine, stack) == {}

            pending = await session.call_tool(
                "deploy_stack", {**deploy, "approval_id": approval_id}
            )
            assert pending.is_error and "pending" in _text(pending).lower(), _text(pending)
            assert ids(docker_engine, stack) == {}

            decided = await api.post(f"/approvals/{approval_id}/approve", json={})
            assert decided.status_code == 200, decided.text
            assert decided.json()["status"] == "approved"

            other = {**deploy, "compose": TWO_SERVICES.replace("3600", "3601")}
            mismatch = await session.call_tool(
                "deploy_stack", {**other, "approval_id": approval_id}
            )
            assert mismatch.is_error and "other arguments" in _text(mismatch)

            done = await session.call_tool("deploy_stack", {**deploy, "approval_id": approval_id})
            assert not done.is_error, _text(done)
            assert (done.structured_content or {})["status"] == "ok"
            assert set(ids(docker_engine, stack)) == {"db", "api"}

            again = await session.call_tool("deploy_stack", {**deploy, "approval_id": approval_id})
            assert again.is_error, _text(again)
            assert "used" in _text(again).lower(), _text(again)
    finally:
        _cleanup(docker_engine, stack)


async def test_mcp_over_http_refuses_a_bad_token(world: World) -> None:
    async with http_session(world, "wf_" + "x" * 40) as session:
        result = await session.call_tool("saved_stacks", {})
        assert result.is_error and "API token is unknown" in _text(result)
