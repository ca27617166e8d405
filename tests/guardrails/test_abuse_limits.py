"""Abuse limits: request rates (in memory and in the real Redis), model budgets, timeouts.

Every refusal is an RFC 9457 problem with status 429 (or 504) and a Retry-After that a
client can obey.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request

from api.db.models import Run
from api.db.repo import conversations
from api.db.types import utcnow
from assistant.scripted import ScriptedModel, call, say
from guardrails.rate_limit import Limit, MemoryRateLimiter, RateLimiter, RedisRateLimiter
from guardrails.rbac import Principal, Role
from tests.api.harness import ApiHarness, SeededOrg
from tests.assistant.chat import Chat
from windflow.errors import RateLimited, TargetUnreachable

REDIS_URL = os.environ.get("WINDFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _redis_or_skip() -> None:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client: Any = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and Redis at {REDIS_URL} is not reachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def limiters(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RateLimiter, ...]]:
    """Two limiters that must agree: one process's, or two replicas sharing Redis."""
    if request.param == "memory":
        memory = MemoryRateLimiter()
        yield memory, memory
        return
    await _redis_or_skip()
    prefix = f"wf-test-{uuid.uuid4().hex[:8]}:"
    first, second = RedisRateLimiter(REDIS_URL, prefix), RedisRateLimiter(REDIS_URL, prefix)
    yield first, second
    await first.close()
    await second.close()


async def test_a_sliding_window_refuses_then_lets_through(
    limiters: tuple[RateLimiter, ...],
) -> None:
    first, second = limiters
    limit = Limit(3, 0.5, "probes")
    await first.hit("user:a", limit)
    await second.hit("user:a", limit)
    await first.hit("user:a", limit)
    with pytest.raises(RateLimited) as caught:
        await second.hit("user:a", limit)
    assert caught.value.retry_after >= 1 and "3 per 0.5 s" in caught.value.message
    await first.hit("user:b", limit)  # another key has its own window
    await asyncio.sleep(0.55)
    await second.hit("user:a", limit)  # the window slid: allowed again


async def test_refused_hits_are_not_counted(limiters: tuple[RateLimiter, ...]) -> None:
    first, _ = limiters
    limit = Limit(1, 0.3)
    await first.hit("k", limit)
    for _ in range(5):
        with pytest.raises(RateLimited):
            await first.hit("k", limit)
    await asyncio.sleep(0.35)
    await first.hit("k", limit)


async def test_an_unreachable_redis_refuses_instead_of_letting_through() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", "wf-test:")
    with pytest.raises(TargetUnreachable, match="Redis"):
        await limiter.hit("k", Limit(5, 1.0))
    await limiter.close()


@pytest.fixture
async def limited(database_url: str, tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with ApiHarness.start(
        database_url,
        tmp_path,
        rate_limit_tool_calls_per_minute=3,
        rate_limit_runs_per_minute=2,
        assistant_max_tokens_per_user_day=500,
    ) as harness:
        yield harness


def _assert_429(response: Any, words: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert body["status"] == 429 and body["code"] == "rate_limited" and words in body["detail"]
    assert body["retry_after"] == int(response.headers["Retry-After"])


async def test_tool_calls_count_per_user_over_the_api_and_the_assistant(
    limited: ApiHarness,
) -> None:
    org = await limited.seed_org("acme")
    url = "/tools/saved_stacks/call"
    for _ in range(2):
        ok = await limited.client.post(url, headers=org.headers(Role.OPERATOR), json={})
        assert ok.status_code == 200 and ok.json()["status"] == "ok", ok.text
    # The assistant calls through the same gate, as the same user: it shares the window.
    tooling = limited.state.tooling
    ctx = tooling.context(user_id=org.users[Role.OPERATOR], org_id=org.id, target=None)
    principal = Principal(user_id=org.users[Role.OPERATOR], roles={org.id: Role.OPERATOR})
    result = await tooling.gate.call(tooling.registry.get("saved_stacks"), ctx, principal, {})
    assert result.status == "ok"
    with pytest.raises(RateLimited):
        await tooling.gate.call(tooling.registry.get("saved_stacks"), ctx, principal, {})
    refused = await limited.client.post(url, headers=org.headers(Role.OPERATOR), json={})
    _assert_429(refused, "too many tool calls")
    other = await limited.client.post(url, headers=org.headers(Role.VIEWER), json={})
    assert other.status_code == 200, "another user has a window of their own"


async def _token(api: ApiHarness, org: SeededOrg) -> dict[str, str]:
    created = await api.client.post(
        "/auth/tokens", headers=org.headers(Role.OPERATOR), json={"name": "bot"}
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


async def test_runs_are_limited_per_user_and_token(limited: ApiHarness) -> None:
    org = await limited.seed_org("acme")
    chat = Chat(limited, org)
    bot = await _token(limited, org)
    first = await chat.conversation()
    await chat.send(first, "what runs on my targets?")
    second = await chat.conversation()
    sent = await limited.client.post(
        f"/conversations/{second}/messages", headers=bot, json={"text": "hello"}
    )
    assert sent.status_code == 202, sent.text
    third = await chat.conversation()
    refused = await limited.client.post(
        f"/conversations/{third}/messages", headers=bot, json={"text": "and now?"}
    )
    _assert_429(refused, "too many assistant runs")
    for conversation in (first, second):
        await chat.wait_for(conversation, "run_finished")


async def test_a_spent_daily_budget_stops_new_runs(limited: ApiHarness) -> None:
    org = await limited.seed_org("acme")
    chat = Chat(limited, org)
    conversation = await chat.conversation()
    async with limited.state.db.transaction() as session:
        session.add(
            Run(
                org_id=org.id,
                conversation_id=conversation,
                user_id=org.users[Role.OPERATOR],
                role="operator",
                status="succeeded",
                prompt_tokens=400,
                completion_tokens=100,
                finished_at=utcnow(),
            )
        )
    refused = await limited.client.post(
        f"/conversations/{conversation}/messages",
        headers=org.headers(Role.OPERATOR),
        json={"text": "deploy everything"},
    )
    _assert_429(refused, "budget for today is spent")
    async with limited.state.db.session() as session:
        page = await conversations.list_runs(session, conversation, 0, 10)
    assert page.total == 1, "no run was started"


async def test_a_run_stops_when_its_token_budget_is_spent(
    database_url: str, tmp_path: Path, model: ScriptedModel
) -> None:
    model.script(call("saved_stacks"), call("saved_stacks"), say("never said"))
    async with ApiHarness.start(
        database_url, tmp_path, llm_model=model.model_name, assistant_max_tokens_per_run=100
    ) as api:
        org = await api.seed_org("acme")
        chat = Chat(api, org)
        conversation = await chat.conversation()
        await chat.send(conversation, "list my saved stacks")
        finished = await chat.wait_for(conversation, "run_finished")
        assert finished["payload"]["outcome"] == "stopped"
        assert "its budget is 100" in await chat.answer(conversation)
        assert len(model.requests) == 1, "no model turn after the budget is spent"


async def test_login_limits_are_shared_through_redis(database_url: str, tmp_path: Path) -> None:
    await _redis_or_skip()
    prefix = f"wf-test-{uuid.uuid4().hex[:8]}:"
    settings: dict[str, Any] = {
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
        "login_attempts_per_minute": 2,
    }
    async with (
        ApiHarness.start(database_url, tmp_path, **settings) as first,
        ApiHarness.start(database_url, tmp_path, **settings) as second,
    ):
        org = await first.seed_org("acme")
        body = {"email": org.emails[Role.VIEWER], "password": "wrong-password-1"}
        assert (await first.client.post("/auth/login", json=body)).status_code == 401
        assert (await second.client.post("/auth/login", json=body)).status_code == 401
        refused = await first.client.post("/auth/login", json=body)
        _assert_429(refused, "too many login attempts")
        other_replica = await second.client.post("/auth/login", json=body)
        assert other_replica.status_code == 429, "the second replica sees the same window"


async def test_slow_requests_are_cut_but_streams_are_not(database_url: str, tmp_path: Path) -> None:
    async with ApiHarness.start(database_url, tmp_path, request_timeout_seconds=0.3) as api:

        async def slow(request: Request) -> dict[str, str]:
            await asyncio.sleep(float(request.query_params.get("s", "1")))
            return {"done": "yes"}

        api.app.add_api_route("/slow", slow)
        api.app.add_api_route("/slow/stream", slow)
        cut = await api.client.get("/slow?s=2")
        assert cut.status_code == 504 and cut.json()["code"] == "timeout"
        assert cut.headers["content-type"] == "application/problem+json"
        assert (await api.client.get("/slow?s=0")).status_code == 200
        assert (await api.client.get("/slow/stream?s=0.5")).status_code == 200
