"""SSE over a real server: resume with Last-Event-ID, the live approval queue, expiry of
stale approvals, and cancelling runs."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from api.db.engine import Database
from api.db.models import Approval
from api.db.types import utcnow
from assistant.scripted import ScriptedModel, call, say, stall
from guardrails.rbac import Role
from tests.api.harness import SeededOrg
from tests.api.world import add_docker_target
from tests.infra.docker_engine import DockerEngine
from tests.live_server import LiveServer, test_settings

LONG_ANSWER = " ".join(f"word{i}" for i in range(120))


@pytest.fixture
def server(database_url: str, tmp_path: Path, model: ScriptedModel) -> Iterator[LiveServer]:
    settings = test_settings(
        database_url,
        tmp_path,
        llm_model=model.model_name,
        llm_retry_backoff_seconds=0.01,
        approval_sweep_seconds=0.2,
    )
    with LiveServer(settings) as live:
        yield live


@asynccontextmanager
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


async def sse(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], stop: Any
) -> list[dict[str, Any]]:
    """Read SSE events until ``stop(events)`` is true, then disconnect."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith(("id:", "event:", "data:")):
                key, _, value = line.partition(":")
                current[key] = value.strip()
            elif line == "" and current:
                events.append(current)
                current = {}
                if stop(events):
                    break
    return events


async def _org(server: LiveServer, docker_host: str) -> SeededOrg:
    org = await server.seed_org(f"acme{uuid.uuid4().hex[:6]}")
    db = Database(server.settings.resolved_database_url)
    try:
        await add_docker_target(db, org.id, docker_host)
    finally:
        await db.dispose()
    return org


async def _conversation(http: httpx.AsyncClient, org: SeededOrg, role: Role = Role.OPERATOR) -> str:
    created = await http.post("/conversations", headers=org.headers(role), json={})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _send(http: httpx.AsyncClient, org: SeededOrg, conversation: str, text: str) -> None:
    sent = await http.post(
        f"/conversations/{conversation}/messages",
        headers=org.headers(Role.OPERATOR),
        json={"text": text},
    )
    assert sent.status_code == 202, sent.text


async def _all_events(http: httpx.AsyncClient, org: SeededOrg, conversation: str) -> list[Any]:
    listed = await http.get(
        f"/conversations/{conversation}/events", headers=org.headers(Role.OPERATOR)
    )
    return list(listed.json())


async def _wait_event(
    http: httpx.AsyncClient, org: SeededOrg, conversation: str, kind: str, count: int = 1
) -> list[Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = await _all_events(http, org, conversation)
        if sum(e["type"] == kind for e in events) >= count:
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} event")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reconnecting_with_last_event_id_gets_every_event_exactly_once(
    server: LiveServer, model: ScriptedModel
) -> None:
    org = await _org(server, "unix:///nonexistent/docker.sock")
    model.script(call("saved_stacks"), stall(0.6, say(LONG_ANSWER)))
    async with client(server) as http:
        conversation = await _conversation(http, org)
        await _send(http, org, conversation, "which stacks are saved?")
        path = f"/conversations/{conversation}/stream"
        headers = org.headers(Role.OPERATOR)
        first = await sse(http, path, headers, lambda ev: ev[-1]["event"] == "tool_finished")
        await _wait_event(http, org, conversation, "run_finished")  # the run went on meanwhile
        resumed = await sse(
            http,
            f"{path}?end_on=run_finished",
            {**headers, "Last-Event-ID": first[-1]["id"]},
            lambda ev: False,  # the server ends the stream after run_finished
        )
        stored = await _all_events(http, org, conversation)
        received = [int(e["id"]) for e in first + resumed]
        assert received == [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
        assert [e["event"] for e in first + resumed] == [e["type"] for e in stored]
        tokens = "".join(
            json.loads(e["data"])["payload"]["text"] for e in resumed if e["event"] == "token"
        )
        assert tokens == LONG_ANSWER
        bad = await http.get(path, headers={**headers, "Last-Event-ID": "yesterday"})
        assert bad.status_code == 422 and "sequence number" in bad.json()["detail"]
        unknown = await http.get(f"{path}?end_on=exploded", headers=headers)
        assert unknown.status_code == 422
    model.assert_complete()


@pytest.mark.docker
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_queue_updates_live_filters_and_expires_stale_approvals(
    server: LiveServer, model: ScriptedModel, docker_engine: DockerEngine
) -> None:
    org = await _org(server, docker_engine.host)
    compose = "services:\n  web:\n    image: windflow-test/busybox:1\n"
    model.script(
        call("deploy_stack", target="docker-local", stack="blog", compose=compose),
        say("The approval expired, so nothing was deployed."),
    )
    async with client(server) as http:
        admin = org.headers(Role.ADMIN)
        watcher = asyncio.create_task(
            sse(http, "/approvals/stream", admin, lambda ev: len(ev) >= 3)
        )
        await asyncio.sleep(0.3)
        conversation = await _conversation(http, org)
        await _send(http, org, conversation, "deploy blog to docker-local")
        events = await _wait_event(http, org, conversation, "approval_required")
        approval_id = next(e for e in events if e["type"] == "approval_required")["payload"][
            "approval_id"
        ]
        queue = await http.get("/approvals?decidable=true&environment=dev", headers=admin)
        assert [a["id"] for a in queue.json()["items"]] == [approval_id]
        for query in ("environment=prod", "older_than_seconds=3600", "newer_than_seconds=0"):
            other = await http.get(f"/approvals?{query}", headers=admin)
            assert other.json()["items"] == [], query
        # Nobody decides: the approval goes stale and the sweeper expires it.
        db = Database(server.settings.resolved_database_url)
        try:
            async with db.transaction() as session:
                await session.execute(
                    update(Approval)
                    .where(Approval.id == approval_id)
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
        finally:
            await db.dispose()
        events = await _wait_event(http, org, conversation, "run_finished")
        decided = next(e for e in events if e["type"] == "approval_decided")
        assert decided["payload"]["status"] == "expired"
        changes = [json.loads(e["data"]) for e in await asyncio.wait_for(watcher, 15)]
        assert changes[0]["status"] == "subscribed"
        assert {"approval_id": approval_id, "status": "pending"} in changes
        assert any(c["status"] in ("expired", "changed") for c in changes[1:])
        late = await http.post(f"/approvals/{approval_id}/approve", headers=admin, json={})
        assert late.status_code == 409
    model.assert_complete()


@pytest.mark.docker
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cancelling_a_running_and_a_waiting_run(
    server: LiveServer, model: ScriptedModel, docker_engine: DockerEngine
) -> None:
    org = await _org(server, docker_engine.host)
    compose = "services:\n  web:\n    image: windflow-test/busybox:1\n"
    model.script(
        stall(10, say("too late")),
        call("deploy_stack", target="docker-local", stack="blog", compose=compose),
    )
    async with client(server) as http:
        operator = org.headers(Role.OPERATOR)
        conversation = await _conversation(http, org)
        nothing = await http.post(f"/conversations/{conversation}/cancel", headers=operator)
        assert nothing.status_code == 409
        await _send(http, org, conversation, "take your time")
        for _ in range(200):  # cancel while the model call is under way, not before it
            if model.requests:
                break
            await asyncio.sleep(0.05)
        assert model.requests, "the run never called the model"
        cancelled = await http.post(f"/conversations/{conversation}/cancel", headers=operator)
        assert cancelled.status_code == 200, cancelled.text
        events = await _wait_event(http, org, conversation, "run_finished")
        assert events[-1]["payload"]["outcome"] == "cancelled"

        await _send(http, org, conversation, "deploy blog to docker-local")
        events = await _wait_event(http, org, conversation, "approval_required")
        approval_id = [e for e in events if e["type"] == "approval_required"][-1]["payload"][
            "approval_id"
        ]
        cancelled = await http.post(f"/conversations/{conversation}/cancel", headers=operator)
        assert cancelled.status_code == 200, cancelled.text
        events = await _wait_event(http, org, conversation, "run_finished", count=2)
        assert events[-1]["payload"]["outcome"] == "cancelled"
        approval = await http.get(f"/approvals/{approval_id}", headers=org.headers(Role.ADMIN))
        assert approval.json()["status"] == "expired"
        runs = await http.get(f"/conversations/{conversation}/runs", headers=operator)
        assert [r["status"] for r in runs.json()["items"]] == ["cancelled", "cancelled"]
    model.steps.clear()  # the stalled step's answer never arrives: that is the point
