"""What the no-model rules share: this run's calls and results, and picking a stack."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from assistant.context import Message
from tools.targets import TargetSpec


@dataclass(frozen=True)
class Done:
    """A call already made in this run and its result envelope."""

    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.result.get("status") == "ok"

    @property
    def data(self) -> dict[str, Any]:
        return self.result.get("data") or {}


def _envelope(content: Any) -> dict[str, Any]:
    parsed = json.loads(content) if isinstance(content, str) else {}
    if isinstance(parsed, dict) and "warning" in parsed and "result" in parsed:
        parsed = parsed["result"]  # flagged output; the envelope is inside
    return parsed if isinstance(parsed, dict) else {}


def history(run_messages: list[Message]) -> list[Done]:
    """Pairs each tool call of this run with its result."""
    results = {
        m["tool_call_id"]: _envelope(m.get("content"))
        for m in run_messages
        if m.get("role") == "tool"
    }
    done: list[Done] = []
    for message in run_messages:
        for call in message.get("tool_calls") or ():
            if call["id"] in results:
                raw = call["function"].get("arguments") or "{}"
                done.append(Done(call["function"]["name"], json.loads(raw), results[call["id"]]))
    return done


def failure_text(done: Done) -> str:
    status = done.result.get("status")
    error = done.result.get("error") or "it failed"
    hint = done.result.get("hint")
    verb = "was refused" if status == "denied" else "failed"
    return f"`{done.name}` {verb}: {error}" + (f" ({hint})" if hint else "")


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9][a-z0-9_-]*", text.lower())


def _named(workload: dict[str, Any], mentioned: list[str]) -> bool:
    name = str(workload.get("name", "")).lower()
    return any(len(m) > 2 and m in re.split(r"[-_.]", name) for m in mentioned)


def pick_stack(workloads: list[dict[str, Any]], mentioned: list[str]) -> str | None:
    """The stack the request is about: named, or holding a named workload, or the only
    one that is not running."""
    stacks = sorted({w["stack"] for w in workloads if w.get("stack")})
    stack = next((s for s in stacks if s in mentioned), None)
    if stack is None:
        hits = [w["stack"] for w in workloads if w.get("stack") and _named(w, mentioned)]
        stack = hits[0] if hits else None
    if stack is None:
        failing = [w["stack"] for w in workloads if w.get("stack") and w["state"] != "running"]
        stack = failing[0] if len(set(failing)) == 1 else None
    return stack


def which_stack(target: TargetSpec, workloads: list[dict[str, Any]]) -> str:
    stacks = sorted({w["stack"] for w in workloads if w.get("stack")})
    return (
        f"Which stack or service on `{target.name}` should I look at? "
        f"Stacks there: {', '.join(stacks) or 'none'}."
    )
