"""Run events (assistant.events.RunEvent) as channel-neutral messages.

The CLI, Slack and Matrix all show the same things: a line per tool call, the plan of a
change waiting for approval, the decision, the final answer. This module decides the words
once; each channel only decides the formatting. Payloads are already redacted when they are
stored (RunEmitter), and texts are redacted again here because plans and outputs may be
rebuilt or truncated on the way.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from assistant.events import RunEvent
from guardrails.redaction import redact

MessageKind = Literal["progress", "tool", "approval", "decision", "answer", "error", "done"]

# A tool's output is a preview already; a chat line shows less of it.
OUTPUT_LINE_CHARS = 300


class ChannelMessage(BaseModel):
    kind: MessageKind
    run_id: str
    text: str  # plain text with light markdown, already redacted
    tool: str | None = None
    approval_id: str | None = None
    risk: str | None = None  # read | mutate | destructive, for approvals
    plan: dict[str, Any] | None = None  # summary, changes, diff, warnings (approval kind)


def _clean(value: Any) -> Any:
    return redact(value)


def _text(value: Any) -> str:
    cleaned = _clean(value)
    return cleaned if isinstance(cleaned, str) else json.dumps(cleaned, sort_keys=True)


def _arguments(arguments: Any) -> str:
    if not isinstance(arguments, dict) or not arguments:
        return ""
    parts = []
    for key, value in _clean(arguments).items():
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def plan_text(plan: dict[str, Any]) -> str:
    """A plan as plain text with light markdown: summary, changes, warnings, diff."""
    lines = [f"**{plan.get('summary') or 'planned change'}**"]
    for change in plan.get("changes") or []:
        detail = f" ({change.get('detail')})" if change.get("detail") else ""
        lines.append(f"- {change.get('action', 'change')} `{change.get('resource', '?')}`{detail}")
    for warning in plan.get("warnings") or []:
        lines.append(f"! {warning}")
    if plan.get("diff"):
        lines.append(f"```diff\n{str(plan['diff']).rstrip()}\n```")
    return _text("\n".join(lines))


def _tool_started(event: RunEvent) -> ChannelMessage:
    payload = event.payload
    tool = str(payload.get("tool") or "?")
    where = f" on {payload['target']}" if payload.get("target") else ""
    args = _arguments(payload.get("arguments"))
    return ChannelMessage(
        kind="tool", run_id=event.run_id, tool=tool, text=f"→ `{tool}`{where}({args})"
    )


def _tool_finished(event: RunEvent) -> ChannelMessage:
    payload = event.payload
    tool = str(payload.get("tool") or "?")
    status = str(payload.get("status") or "ok")
    if status == "ok":
        output = str(payload.get("output") or "")
        if len(output) > OUTPUT_LINE_CHARS:
            output = output[: OUTPUT_LINE_CHARS - 1] + "…"
        text = f"✓ `{tool}` ok" + (f": {output}" if output else "")
    else:
        hint = f" ({payload['hint']})" if payload.get("hint") else ""
        text = f"✗ `{tool}` {status}: {payload.get('error') or 'no detail'}{hint}"
    return ChannelMessage(kind="tool", run_id=event.run_id, tool=tool, text=_text(text))


def _approval_required(event: RunEvent) -> ChannelMessage:
    payload = event.payload
    tool = str(payload.get("tool") or "?")
    plan = _clean(payload.get("plan") or {})
    where = f" on {payload['target']}" if payload.get("target") else ""
    env = f" ({payload['environment']})" if payload.get("environment") else ""
    risk = payload.get("risk")
    head = f"Approval needed for `{tool}`{where}{env}"
    if risk:
        head += f", risk {risk}"
    return ChannelMessage(
        kind="approval",
        run_id=event.run_id,
        tool=tool,
        approval_id=payload.get("approval_id"),
        risk=str(risk) if risk else None,
        plan=plan,
        text=f"{head}:\n{plan_text(plan)}",
    )


def _approval_decided(event: RunEvent) -> ChannelMessage:
    payload = event.payload
    status = str(payload.get("status") or "?")
    by = f" by {payload['decided_by']}" if payload.get("decided_by") else ""
    reason = f": {payload['reason']}" if payload.get("reason") else ""
    return ChannelMessage(
        kind="decision",
        run_id=event.run_id,
        approval_id=payload.get("approval_id"),
        text=_text(f"Approval {payload.get('approval_id')} {status}{by}{reason}"),
    )


def render(event: RunEvent) -> ChannelMessage | None:
    """The message a channel shows for one event; None for tokens (see Transcript)."""
    payload = event.payload
    match event.type:
        case "token":
            return None
        case "run_started":
            return ChannelMessage(kind="progress", run_id=event.run_id, text="Working on it…")
        case "message":
            kind: MessageKind = "answer" if payload.get("final") else "progress"
            return ChannelMessage(
                kind=kind, run_id=event.run_id, text=_text(str(payload.get("text") or ""))
            )
        case "tool_started":
            return _tool_started(event)
        case "tool_finished":
            return _tool_finished(event)
        case "approval_required":
            return _approval_required(event)
        case "approval_decided":
            return _approval_decided(event)
        case "error":
            text = f"Error ({payload.get('code') or 'error'}): {payload.get('message') or ''}"
            return ChannelMessage(kind="error", run_id=event.run_id, text=_text(text))
        case "run_finished":
            outcome = str(payload.get("outcome") or "finished")
            return ChannelMessage(kind="done", run_id=event.run_id, text=f"Run {outcome}.")
    return None


class Transcript:
    """Accumulates a run's token and message events into the text of its final answer.

    Tokens stream a turn's text; the turn's ``message`` event then carries the whole text,
    so it replaces what the tokens built (no doubled text). A final message wins.
    """

    def __init__(self) -> None:
        self._streamed: list[str] = []
        self._last_message = ""
        self._final: str | None = None

    def add(self, event: RunEvent) -> None:
        if event.type == "token":
            self._streamed.append(str(event.payload.get("text") or ""))
        elif event.type == "message" and event.payload.get("role", "assistant") == "assistant":
            text = str(event.payload.get("text") or "")
            self._streamed.clear()
            self._last_message = text
            if event.payload.get("final"):
                self._final = text

    @property
    def answer(self) -> str:
        if self._final is not None:
            return _text(self._final)
        streamed = "".join(self._streamed)
        return _text(streamed or self._last_message)
