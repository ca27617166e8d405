"""channels.render on the events of a real run (live server, rules planner, real Docker):
tool lines, the approval with its plan, the decision, the answer, the end."""

from __future__ import annotations

import time
import uuid

import httpx

from assistant.events import RunEvent
from channels.render import ChannelMessage, Transcript, render
from tests.assistant.test_scripted_deploy import TWO_SERVICES
from tests.channels.conftest import World


def _events(http: httpx.Client, conversation: str, until: str) -> list[RunEvent]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = http.get(f"/conversations/{conversation}/events")
        assert listed.status_code == 200, listed.text
        events = [RunEvent.model_validate(e) for e in listed.json()]
        if any(e.type == until for e in events):
            return events
        time.sleep(0.05)
    raise AssertionError(f"no {until} event")


def test_renders_a_denied_deploy_run(world: World) -> None:
    stack = f"rnd{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {world.token}"}
    with httpx.Client(base_url=world.server.url, headers=headers, timeout=30) as http:
        saved = http.post("/stacks", json={"name": stack, "compose_source": TWO_SERVICES})
        assert saved.status_code == 201, saved.text
        conversation = http.post("/conversations", json={}).json()["id"]
        sent = http.post(
            f"/conversations/{conversation}/messages",
            json={"text": f"deploy {stack} to docker-local"},
        )
        assert sent.status_code == 202, sent.text
        events = _events(http, conversation, "approval_required")
        approval_id = events[-1].payload["approval_id"]
        denied = http.post(f"/approvals/{approval_id}/deny", json={"reason": "not today"})
        assert denied.status_code == 200, denied.text
        events = _events(http, conversation, "run_finished")

    messages = [m for m in map(render, events) if m is not None]
    kinds = [m.kind for m in messages]
    assert kinds[0] == "progress" and kinds[-1] == "done"
    tools = [m for m in messages if m.kind == "tool"]
    assert tools[0].text.startswith("→ `saved_stacks`") and tools[1].text.startswith(
        "✓ `saved_stacks` ok"
    )
    approval = next(m for m in messages if m.kind == "approval")
    assert approval == ChannelMessage.model_validate(approval.model_dump())
    assert approval.tool == "deploy_stack" and approval.approval_id == approval_id
    assert approval.plan is not None and approval.plan["summary"] in approval.text
    assert "docker-local" in approval.text and "```diff" in approval.text
    decision = next(m for m in messages if m.kind == "decision")
    assert f"Approval {approval_id} denied" in decision.text and "not today" in decision.text
    assert all(m.run_id == events[0].run_id for m in messages)
    assert not [e for e in events if e.type == "token" and render(e) is not None]

    transcript = Transcript()
    for event in events:
        transcript.add(event)
    finals = [e.payload["text"] for e in events if e.type == "message" and e.payload.get("final")]
    assert finals and transcript.answer == finals[-1]
    assert [m.text for m in messages if m.kind == "answer"][-1] == transcript.answer


def test_transcript_joins_tokens_and_prefers_the_final_message() -> None:
    def event(seq: int, kind: str, **payload: object) -> RunEvent:
        return RunEvent(
            thread_id="t",
            seq=seq,
            run_id="r",
            type=kind,
            payload=payload,
            at="2026-01-01T00:00:00Z",
        )

    transcript = Transcript()
    transcript.add(event(1, "token", text="Hello "))
    transcript.add(event(2, "token", text="world, DB_PASS"))
    transcript.add(event(3, "token", text="WORD=hunter2"))
    assert transcript.answer == "Hello world, DB_PASSWORD=***"
    transcript.add(event(4, "message", role="assistant", text="Hello world.", final=True))
    assert transcript.answer == "Hello world."
