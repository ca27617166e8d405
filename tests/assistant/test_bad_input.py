"""Bad input and failing models: a clear message, a clean end, nothing half-done."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.db.models import Run
from api.db.repo.conversations import create_conversation
from assistant.scripted import ScriptedModel, call, calls, fail, raw_call, say, stall
from guardrails.rbac import Role
from tests.api.harness import ApiHarness, SeededOrg
from tests.api.world import add_docker_target
from tests.assistant.chat import Chat
from tests.infra.docker_engine import DockerEngine


@pytest.fixture
async def api(database_url: str, tmp_path: Path, model: ScriptedModel) -> AsyncIterator[ApiHarness]:
    async with ApiHarness.start(
        database_url,
        tmp_path,
        llm_model=model.model_name,
        llm_retries=2,
        llm_retry_backoff_seconds=0.01,
        llm_timeout_seconds=0.5,
        assistant_max_steps=3,
        assistant_max_message_chars=1000,
    ) as harness:
        yield harness


async def _org(api: ApiHarness, docker_host: str = "unix:///nonexistent/docker.sock") -> SeededOrg:
    org = await api.seed_org(f"acme{uuid.uuid4().hex[:6]}")
    await add_docker_target(api.state.db, org.id, docker_host)
    return org


async def _run(chat: Chat, text: str) -> tuple[str, dict[str, object], str]:
    conversation = await chat.conversation()
    await chat.send(conversation, text)
    finished = await chat.wait_for(conversation, "run_finished")
    return conversation, finished["payload"], await chat.answer(conversation)


async def test_empty_and_oversized_messages_are_refused_before_a_run(
    api: ApiHarness, model: ScriptedModel
) -> None:
    org = await _org(api)
    chat = Chat(api, org)
    conversation = await chat.conversation()
    for body in ({"text": ""}, {"text": "   "}, {}, {"text": "hi", "extra": 1}):
        response = await api.client.post(
            f"/conversations/{conversation}/messages", headers=org.headers(Role.OPERATOR), json=body
        )
        assert response.status_code == 422, body
    huge = await api.client.post(
        f"/conversations/{conversation}/messages",
        headers=org.headers(Role.OPERATOR),
        json={"text": "x" * 5000},
    )
    assert huge.status_code == 422
    assert "5,000 characters; the limit is 1,000" in huge.json()["detail"]
    assert await chat.events(conversation) == [], "no run was started"
    assert await api.count("runs") == 0
    model.assert_complete()


async def test_unknown_target_and_malformed_arguments_are_reported_to_the_model(
    api: ApiHarness, model: ScriptedModel
) -> None:
    org = await _org(api)
    model.script(
        calls(
            call("stack_status", target="prod-9", stack="blog"),
            raw_call("stack_status", '{"target": "docker-local", "stack": '),
            call("no_such_tool"),
        ),
        say("I could not find that target."),
    )
    _, finished, answer = await _run(Chat(api, org), "status of blog on prod-9")
    assert finished["outcome"] == "succeeded" and answer == "I could not find that target."
    results = [json.loads(m["content"]) for m in model.requests[-1].messages if m["role"] == "tool"]
    assert results[0]["status"] == "error" and "unknown target 'prod-9'" in results[0]["error"]
    assert "docker-local" in results[0]["hint"]
    assert results[1]["status"] == "error" and "not valid JSON" in results[1]["error"]
    assert results[2]["status"] == "error" and "no tool named 'no_such_tool'" in results[2]["error"]
    model.assert_complete()


async def test_model_errors_are_retried_then_end_the_run_cleanly(
    api: ApiHarness, model: ScriptedModel
) -> None:
    org = await _org(api)
    model.script(fail("upstream overloaded"), say("Recovered after a retry."))
    _, finished, answer = await _run(Chat(api, org), "hello")
    assert finished["outcome"] == "succeeded" and answer == "Recovered after a retry."

    model.script(fail("boom"), fail("boom"), fail("boom"))
    conversation, finished, answer = await _run(Chat(api, org), "hello again")
    assert finished["outcome"] == "failed"
    assert answer.startswith("The model could not answer") and "attempt 3" in answer
    assert "Nothing was changed" in answer
    kinds = [e["type"] for e in await Chat(api, org).events(conversation)]
    assert kinds[-3:] == ["error", "message", "run_finished"]

    model.script(fail("invalid api key", status=401))
    _, finished, answer = await _run(Chat(api, org), "and again")
    assert finished["outcome"] == "failed" and "attempt 1" in answer and "attempt 2" not in answer
    model.assert_complete()


async def test_model_timeout_ends_the_run_with_a_clear_message(
    api: ApiHarness, model: ScriptedModel
) -> None:
    org = await _org(api)
    model.script(stall(5), stall(5), stall(5))
    _, finished, answer = await _run(Chat(api, org), "hello")
    assert finished["outcome"] == "failed" and "timed out" in answer
    model.assert_complete()


async def test_step_limit_stops_a_looping_model(api: ApiHarness, model: ScriptedModel) -> None:
    org = await _org(api)
    model.script(*[call("saved_stacks") for _ in range(3)])
    _, finished, answer = await _run(Chat(api, org), "loop forever")
    assert finished["outcome"] == "stopped" and finished["steps"] == 3
    assert "stopped after 3 steps" in answer
    model.assert_complete()


@pytest.mark.docker
async def test_a_waiting_conversation_refuses_a_new_message(
    api: ApiHarness, model: ScriptedModel, docker_engine: DockerEngine
) -> None:
    org = await _org(api, docker_engine.host)
    compose = "services:\n  web:\n    image: windflow-test/busybox:1\n"
    model.script(call("deploy_stack", target="docker-local", stack="blog", compose=compose))
    chat = Chat(api, org)
    conversation = await chat.conversation()
    await chat.send(conversation, "deploy blog to docker-local")
    required = await chat.wait_for(conversation, "approval_required")
    again = await api.client.post(
        f"/conversations/{conversation}/messages",
        headers=org.headers(Role.OPERATOR),
        json={"text": "and another thing"},
    )
    assert again.status_code == 409
    assert required["payload"]["approval_id"] in again.json()["detail"]
    other = Chat(api, await api.seed_org(f"other{uuid.uuid4().hex[:6]}"))
    stranger = await api.client.get(
        f"/conversations/{conversation}/events", headers=other.org.headers(Role.OWNER)
    )
    assert stranger.status_code == 404, "another organization cannot read the thread"
    model.assert_complete()


async def test_a_run_left_running_by_a_dead_process_is_ended_at_start(
    database_url: str, tmp_path: Path
) -> None:
    async with ApiHarness.start(database_url, tmp_path) as first:
        org = await _org(first)
        async with first.state.db.transaction() as session:
            conversation = await create_conversation(
                session, org.id, org.users[Role.OPERATOR], "interrupted"
            )
            session.add(
                Run(
                    org_id=org.id,
                    conversation_id=conversation.id,
                    user_id=org.users[Role.OPERATOR],
                    role="operator",
                    status="running",
                )
            )
    async with ApiHarness.start(database_url, tmp_path) as second:
        chat = Chat(second, org)
        finished = await chat.wait_for(conversation.id, "run_finished")
        assert finished["payload"]["outcome"] == "failed"
        assert "server stopped during this run" in await chat.answer(conversation.id)
        runs = await second.client.get(
            f"/conversations/{conversation.id}/runs", headers=org.headers(Role.OPERATOR)
        )
        assert runs.json()["items"][0]["status"] == "failed"
