"""The agent graph: guard the input, retrieve, think, act through the guardrails, wait for
approvals durably, execute, observe, and loop until there is an answer.

    START -> guard_input -> retrieve -> think -> act -> think ... -> END
                                                  \\-> approve (interrupt) -> execute -> act

Side effects happen only in ``execute``, which runs after ``approve`` has been resumed, and
only through ``Gate.execute_approved``, which consumes the stored approval. The value a
resume carries is never trusted: ``execute`` reads the decision from the approval store.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from assistant.context import AgentState, Message, RunDeps, TurnInput
from assistant.model import ToolCallRequest, Usage, parse_arguments
from guardrails.approvals import ApprovalView
from guardrails.injection import mark_untrusted
from tools.base import Tool, ToolContext, ToolResult
from tools.targets import TargetSpec
from windflow.errors import ModelError, NotFound, RateLimited, WindFlowError

OUTPUT_PREVIEW_CHARS = 2000


def _usage(state: AgentState) -> Usage:
    raw = state.get("usage") or {}
    return Usage(
        prompt=int(raw.get("prompt", 0)),
        completion=int(raw.get("completion", 0)),
        cost_usd=raw.get("cost_usd"),
    )


def tool_message(call_id: str, result: ToolResult) -> Message:
    """A tool result as the model reads it: our envelope, marked as untrusted data."""
    envelope = result.model_dump(mode="json", exclude_none=True)
    return {"role": "tool", "tool_call_id": call_id, "content": mark_untrusted(envelope)}


def _preview(result: ToolResult) -> str:
    text = json.dumps(result.data, sort_keys=True) if result.data is not None else ""
    return text[:OUTPUT_PREVIEW_CHARS] + ("…" if len(text) > OUTPUT_PREVIEW_CHARS else "")


async def _finished(deps: RunDeps, call_id: str, result: ToolResult) -> None:
    await deps.emitter.emit(
        "tool_finished",
        {
            "call_id": call_id,
            "tool": result.tool,
            "status": result.status,
            "error": result.error,
            "hint": result.hint,
            "output": _preview(result),
            "truncated": result.truncated or len(_preview(result)) >= OUTPUT_PREVIEW_CHARS,
        },
    )


def _find_target(targets: list[TargetSpec], name: str) -> TargetSpec:
    for target in targets:
        if name in (target.name, target.id):
            return target
    names = ", ".join(t.name for t in targets) or "none configured"
    raise NotFound(f"unknown target {name!r}", hint=f"targets in this organization: {names}")


def _tool_context(
    deps: RunDeps, targets: list[TargetSpec], target_name: str | None
) -> tuple[TargetSpec | None, ToolContext]:
    """The run's tool context on the named target (an unknown name is a NotFound)."""
    target = _find_target(targets, target_name) if target_name else None
    ctx = deps.workspace.context(
        user_id=deps.user_id,
        org_id=deps.org_id,
        target=target,
        events=deps.emitter,
        conversation_id=deps.conversation_id,
    )
    return target, ctx


def _role(deps: RunDeps) -> str:
    role = deps.principal.role_in(deps.org_id)
    return role.value if role is not None else "none"


def _visible(deps: RunDeps, targets: list[TargetSpec]) -> list[Tool[Any, Any]]:
    kinds = {t.kind for t in targets}
    candidates = [t for t in deps.registry if not t.targets or t.targets & kinds]
    return deps.gate.visible_tools(candidates, deps.principal, deps.org_id, None)


def _over_budget(deps: RunDeps, usage: Usage) -> str | None:
    """Why the run may not call the model again, if its token or cost budget is spent."""
    tokens = usage.prompt + usage.completion
    if deps.max_tokens is not None and tokens >= deps.max_tokens:
        return f"this run used {tokens:,} model tokens; its budget is {deps.max_tokens:,}"
    cost = usage.cost_usd or 0.0
    if deps.max_cost_usd is not None and cost >= deps.max_cost_usd:
        return f"this run cost ${cost:.4f}; its budget is ${deps.max_cost_usd:.4f}"
    return None


async def guard_input(state: AgentState, runtime: Runtime[RunDeps]) -> dict[str, Any]:
    request = (state.get("request") or "").strip()
    limit = runtime.context.max_message_chars
    if not request:
        return {"answer": "Your message is empty: tell me what you need.", "outcome": "failed"}
    if len(request) > limit:
        return {
            "answer": f"Your message has {len(request):,} characters; the limit is {limit:,}. "
            "Send a shorter message, or attach large files as a saved stack.",
            "outcome": "failed",
        }
    return {
        "messages": [{"role": "user", "content": request}],
        "run_start": len(state.get("messages") or []),
    }


async def retrieve(state: AgentState, runtime: Runtime[RunDeps]) -> dict[str, Any]:
    deps = runtime.context
    snippets = await deps.retriever.retrieve(deps.org_id, state["request"], deps.snippets_limit)
    return {"snippets": snippets}


async def think(state: AgentState, runtime: Runtime[RunDeps]) -> dict[str, Any]:
    deps = runtime.context
    steps = state.get("steps", 0)
    if steps >= deps.max_steps:
        return {
            "answer": f"I stopped after {steps} steps without reaching an answer. Nothing else "
            "was changed; the steps so far are above. Narrow the request or continue it.",
            "outcome": "stopped",
            "queue": [],
        }
    spent = _over_budget(deps, _usage(state))
    if spent is not None:
        return {
            "answer": f"I stopped: {spent}. Nothing else was changed; the steps so far are "
            "above. Continue later, or ask an admin to raise the budget.",
            "outcome": "stopped",
            "queue": [],
        }
    targets = await deps.targets()
    messages = list(state.get("messages") or [])
    given = TurnInput(
        request=state["request"],
        messages=messages,
        run_messages=messages[state.get("run_start", 0) :],
        targets=targets,
        tools=_visible(deps, targets),
        role=_role(deps),
        snippets=list(state.get("snippets") or []),
    )
    usage = _usage(state)
    try:
        turn = await deps.planner.turn(given, deps.emitter.token)
    except ModelError as exc:
        await deps.emitter.flush_tokens()
        await deps.emitter.emit("error", {"code": exc.code, "message": exc.message})
        hint = f" ({exc.hint})" if exc.hint else ""
        return {
            "answer": f"{exc.message[:1].upper()}{exc.message[1:]}{hint}. Nothing was changed.",
            "outcome": "failed",
            "queue": [],
        }
    usage.add(turn.usage)
    calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
    message: Message = {"role": "assistant", "content": turn.text or None}
    if calls:
        message["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in calls
        ]
    update: dict[str, Any] = {
        "messages": [message],
        "queue": calls,
        "steps": steps + 1,
        "usage": usage.as_payload(),
        "model": turn.model or None,
    }
    if turn.text:
        await deps.emitter.emit(
            "message", {"role": "assistant", "text": turn.text, "final": not calls}
        )
    if not calls:
        update["answer"] = turn.text or "The model returned an empty answer."
        update["outcome"] = "succeeded"
    return update


async def _propose(
    deps: RunDeps, call: dict[str, Any], targets: list[TargetSpec]
) -> tuple[Message | None, dict[str, Any] | None]:
    """Run one proposed call through the gate: a tool message, or an approval to wait for."""
    request = ToolCallRequest(id=call["id"], name=call["name"], arguments=call["arguments"])
    target_name: str | None = None
    try:
        arguments = parse_arguments(request)
        raw_target = arguments.pop("target", None)
        target_name = str(raw_target) if raw_target is not None else None
    except ModelError as exc:
        arguments = {}
        failure: WindFlowError | None = exc
    else:
        failure = None
    await deps.emitter.emit(
        "tool_started",
        {
            "call_id": request.id,
            "tool": request.name,
            "arguments": arguments,
            "target": target_name,
        },
    )
    if failure is not None:
        result = ToolResult.failed(request.name, failure)
        await _finished(deps, request.id, result)
        return tool_message(request.id, result), None
    try:
        tool = deps.registry.get(request.name)
        target, ctx = _tool_context(deps, targets, target_name)
    except WindFlowError as exc:
        result = ToolResult.failed(request.name, exc)
        await _finished(deps, request.id, result)
        return tool_message(request.id, result), None
    try:
        result = await deps.gate.call(
            tool, ctx, deps.principal, arguments, thread_id=deps.conversation_id
        )
    except RateLimited as exc:  # the model is told to slow down, like any failed call
        result = ToolResult.failed(tool.name, exc)
    if result.status != "approval_required":
        await _finished(deps, request.id, result)
        return tool_message(request.id, result), None
    awaiting = {
        "call_id": request.id,
        "tool": tool.name,
        "target": target.name if target else None,
        "environment": target.environment if target else None,
        "approval_id": result.approval_id,
        "plan": result.plan.model_dump(mode="json") if result.plan else {},
    }
    await deps.emitter.emit("approval_required", {**awaiting, "arguments": arguments})
    return None, awaiting


async def act(state: AgentState, runtime: Runtime[RunDeps]) -> dict[str, Any]:
    deps = runtime.context
    queue = list(state.get("queue") or [])
    targets = await deps.targets()
    produced: list[Message] = []
    while queue:
        call = queue.pop(0)
        message, awaiting = await _propose(deps, call, targets)
        if awaiting is not None:
            return {"queue": queue, "awaiting": awaiting, "messages": produced}
        assert message is not None
        produced.append(message)
    return {"queue": [], "awaiting": None, "messages": produced}


def approve(state: AgentState) -> dict[str, Any]:
    """Wait, durably, for a human decision on the pending approval."""
    awaiting = state["awaiting"] or {}
    decision = interrupt(
        {
            "approval_id": awaiting.get("approval_id"),
            "tool": awaiting.get("tool"),
            "target": awaiting.get("target"),
            "plan": awaiting.get("plan"),
        }
    )
    return {"decision": decision if isinstance(decision, dict) else {"value": decision}}


async def execute(state: AgentState, runtime: Runtime[RunDeps]) -> dict[str, Any]:
    deps = runtime.context
    awaiting = state["awaiting"] or {}
    approval_id = str(awaiting.get("approval_id"))
    view = await deps.workspace.approval(deps.org_id, approval_id)
    if view is not None and view.status == "pending":
        return {"decision": None}  # resumed without a decision: keep waiting
    status = view.status if view is not None else "missing"
    await deps.emitter.emit(
        "approval_decided",
        {
            "approval_id": approval_id,
            "status": status,
            "decided_by": view.decided_by if view else None,
            "reason": view.reason if view else None,
        },
    )
    tool = deps.registry.get(str(awaiting.get("tool")))
    cancelled = bool((state.get("decision") or {}).get("cancel"))
    if status == "approved" and not cancelled:
        try:
            _, ctx = _tool_context(deps, await deps.targets(), awaiting.get("target"))
        except WindFlowError as exc:
            result = ToolResult.failed(tool.name, exc)
        else:
            # Shielded: cancelling the run must not stop a change halfway; it completes
            # and is recorded, and the run ends after it.
            result = await asyncio.shield(
                deps.gate.execute_approved(tool, ctx, deps.principal, approval_id)
            )
    else:
        result = ToolResult.denied(tool.name, _not_made(view, status, cancelled), _NO_RETRY)
    await _finished(deps, str(awaiting.get("call_id")), result)
    update: dict[str, Any] = {
        "messages": [tool_message(str(awaiting.get("call_id")), result)],
        "awaiting": None,
        "decision": None,
    }
    if cancelled:
        update |= {
            "queue": [],
            "answer": "The run was cancelled; the pending change was not made.",
            "outcome": "cancelled",
        }
    return update


_NO_RETRY = "do not retry it; ask the user what to do instead"


def _not_made(view: ApprovalView | None, status: str, cancelled: bool) -> str:
    if cancelled:
        return "the run was cancelled before the change was approved; it was not made"
    if status == "expired":
        return "the approval expired before anyone decided; the change was not made"
    who = f" by {view.decided_by}" if view is not None and view.decided_by else ""
    why = f": {view.reason}" if view is not None and view.reason else ""
    return f"the change was {status}{who}{why}; it was not made"


def _after_guard(state: AgentState) -> Literal["retrieve", "__end__"]:
    return "__end__" if state.get("answer") else "retrieve"


def _after_think(state: AgentState) -> Literal["act", "__end__"]:
    return "act" if state.get("queue") and not state.get("answer") else "__end__"


def _after_act(state: AgentState) -> Literal["approve", "think"]:
    return "approve" if state.get("awaiting") else "think"


def _after_execute(state: AgentState) -> Literal["approve", "act", "think", "__end__"]:
    if state.get("answer"):
        return "__end__"
    if state.get("awaiting"):
        return "approve"
    return "act" if state.get("queue") else "think"


def build_graph(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(AgentState, context_schema=RunDeps)
    graph.add_node("guard_input", guard_input)
    graph.add_node("retrieve", retrieve)
    graph.add_node("think", think)
    graph.add_node("act", act)
    graph.add_node("approve", approve)
    graph.add_node("execute", execute)
    graph.add_edge(START, "guard_input")
    graph.add_conditional_edges("guard_input", _after_guard)
    graph.add_edge("retrieve", "think")
    graph.add_conditional_edges("think", _after_think)
    graph.add_conditional_edges("act", _after_act)
    graph.add_edge("approve", "execute")
    graph.add_conditional_edges("execute", _after_execute)
    return graph.compile(checkpointer=checkpointer)
