"""The assistant against a real OpenAI-compatible HTTP server on 127.0.0.1.

This exercises LiteLLM's OpenAI provider end to end: the tool schemas on the wire, tool
calls streamed in fragments, the tool result sent back, streamed tokens reaching the event
log, usage and cost recorded, and a fallback model used when the main one fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardrails.rbac import Role
from tests.api.harness import ApiHarness
from tests.assistant.chat import Chat
from tests.assistant.openai_stub import OpenAIStub, Reply, RunningStub

ANSWER = "You have one saved stack, blog, which runs the blog on Postgres and Redis."


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with RunningStub() as running:
        yield running


async def test_tool_call_round_trip_streaming_usage_and_cost(
    database_url: str, tmp_path: Path, stub: OpenAIStub
) -> None:
    stub.replies.extend([Reply(tool="saved_stacks"), Reply(text=ANSWER)])
    async with ApiHarness.start(
        database_url,
        tmp_path,
        llm_model="openai/gpt-4o-mini",
        llm_api_base=stub.api_base,
        llm_api_key="sk-test-not-a-real-key",
    ) as api:
        org = await api.seed_org(f"acme{uuid.uuid4().hex[:6]}")
        saved = await api.client.post(
            "/stacks",
            headers=org.headers(Role.ADMIN),
            json={
                "name": "blog",
                "description": "the blog on Postgres and Redis",
                "compose_source": "services:\n  web:\n    image: nginx:1.27\n",
            },
        )
        assert saved.status_code == 201
        target = await api.client.post(
            "/targets",
            headers=org.headers(Role.ADMIN),
            json={
                "name": "prod-1",
                "kind": "docker",
                "environment": "prod",
                "connection": {"host": "unix:///nonexistent/docker.sock"},
            },
        )
        assert target.status_code == 201, target.text
        chat = Chat(api, org)
        conversation = await chat.conversation()
        await chat.send(conversation, "which stacks have we saved?")
        finished = await chat.wait_for(conversation, "run_finished")

        assert finished["payload"]["outcome"] == "succeeded"
        assert await chat.answer(conversation) == ANSWER
        first, second = stub.requests
        assert first["stream"] is True and first["model"] == "gpt-4o-mini"
        offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
        assert offered["saved_stacks"]["parameters"]["type"] == "object"
        target_parameter = offered["stack_status"]["parameters"]["properties"]["target"]
        assert target_parameter["enum"] == ["prod-1"]
        assert "target" in offered["stack_status"]["parameters"]["required"]
        assert not {"k8s_pod_logs", "vagrant_up"} & set(offered), "no target in scope runs them"
        assert "prod-1: docker, environment prod" in first["messages"][0]["content"]
        assert first["messages"][0]["role"] == "system"
        assert first["messages"][-1] == {"role": "user", "content": "which stacks have we saved?"}
        call, result = second["messages"][-2:]
        assert call["role"] == "assistant"
        assert call["tool_calls"][0]["function"]["name"] == "saved_stacks"
        assert result["role"] == "tool" and result["tool_call_id"] == "call_stub_1"
        assert '"name": "blog"' in result["content"]

        events = await chat.events(conversation)
        streamed = "".join(e["payload"]["text"] for e in events if e["type"] == "token")
        assert streamed.strip() == ANSWER
        assert sum(e["type"] == "token" for e in events) >= 2, "tokens arrive in pieces"
        usage = finished["payload"]["usage"]
        assert (usage["prompt"], usage["completion"]) == (642, 24)
        assert usage["cost_usd"] and usage["cost_usd"] > 0, "priced from the local cost map"


async def test_fallback_model_answers_when_the_main_one_fails(
    database_url: str, tmp_path: Path, stub: OpenAIStub
) -> None:
    stub.failing_models.add("overloaded-model")
    stub.replies.append(Reply(text="Hello from the fallback."))
    async with ApiHarness.start(
        database_url,
        tmp_path,
        llm_model="openai/overloaded-model",
        llm_fallback_models=["openai/backup-model"],
        llm_api_base=stub.api_base,
        llm_api_key="sk-test-not-a-real-key",
        llm_retries=1,
        llm_retry_backoff_seconds=0.01,
    ) as api:
        org = await api.seed_org(f"acme{uuid.uuid4().hex[:6]}")
        chat = Chat(api, org)
        conversation = await chat.conversation()
        await chat.send(conversation, "hello")
        finished = await chat.wait_for(conversation, "run_finished")
        assert finished["payload"]["outcome"] == "succeeded"
        assert finished["payload"]["model"] == "openai/backup-model"
        assert await chat.answer(conversation) == "Hello from the fallback."
        assert [r["model"] for r in stub.requests] == [
            "overloaded-model",
            "overloaded-model",
            "backup-model",
        ]
