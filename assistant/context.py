"""What a run works with, passed in: the graph state (checkpointed) and the run's deps.

The state holds only JSON-shaped data so the checkpointer can store it in SQLite or
PostgreSQL and another process can resume it. The deps (``RunDeps``) are live objects
rebuilt for every invocation, including a resume after a restart.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypedDict

from assistant.events import RunEmitter
from assistant.model import ModelTurn, TokenSink, ToolCallRequest, Usage
from guardrails.approvals import ApprovalView
from guardrails.gate import Gate
from guardrails.rbac import Principal
from tools.base import EventSink, Tool, ToolContext
from tools.registry import ToolRegistry
from tools.targets import TargetSpec

Message = dict[str, Any]


class AgentState(TypedDict, total=False):
    run_id: str
    request: str
    # The whole thread in the OpenAI chat format; every run appends to it.
    messages: Annotated[list[Message], operator.add]
    run_start: int  # index in messages where this run's request is
    snippets: list[dict[str, Any]]
    queue: list[dict[str, Any]]  # tool calls of the current turn not yet handled
    awaiting: dict[str, Any] | None  # the call that waits for a human decision
    decision: dict[str, Any] | None
    steps: int
    usage: dict[str, Any]
    answer: str | None
    outcome: str  # succeeded | failed | stopped
    model: str | None


class Workspace(Protocol):
    """The organization's targets and how to build a tool context for one of them."""

    async def targets(self, org_id: str, limit: int = 50) -> list[TargetSpec]: ...

    async def approval(self, org_id: str, approval_id: str) -> ApprovalView | None: ...

    def context(
        self,
        *,
        user_id: str,
        org_id: str,
        target: TargetSpec | None,
        events: EventSink | None = None,
        conversation_id: str | None = None,
        adapter: Any = None,
    ) -> ToolContext: ...


class Retriever(Protocol):
    """Ranked snippets ({"source", "text"}) for a request; the knowledge layer implements it."""

    async def retrieve(self, org_id: str, query: str, limit: int) -> list[dict[str, Any]]: ...


class NoRetriever:
    async def retrieve(self, org_id: str, query: str, limit: int) -> list[dict[str, Any]]:
        return []


@dataclass(frozen=True)
class TurnInput:
    """What a planner sees for one turn."""

    request: str
    messages: list[Message]  # the whole thread
    run_messages: list[Message]  # this run's messages, from its request on
    targets: list[TargetSpec]
    tools: list[Tool[Any, Any]]
    role: str
    snippets: list[dict[str, Any]]


class Planner(Protocol):
    """Decides the next turn: a model over LiteLLM, or the deterministic rules."""

    name: str | None  # the model string; None means no model was used

    async def turn(self, given: TurnInput, on_token: TokenSink) -> ModelTurn: ...


@dataclass
class RunDeps:
    """The run's live dependencies: LangGraph passes them to every node as its context."""

    org_id: str
    user_id: str
    principal: Principal
    conversation_id: str
    gate: Gate
    registry: ToolRegistry
    workspace: Workspace
    planner: Planner
    emitter: RunEmitter
    retriever: Retriever = field(default_factory=NoRetriever)
    max_steps: int = 12
    # The run's model budget (per-run cap, or what is left of the user's day); None = none.
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_message_chars: int = 20_000
    snippets_limit: int = 4
    _targets: list[TargetSpec] | None = None

    async def targets(self) -> list[TargetSpec]:
        """The organization's targets, read once per invocation (deps are per invocation)."""
        if self._targets is None:
            self._targets = await self.workspace.targets(self.org_id)
        return self._targets


__all__ = [
    "AgentState",
    "Message",
    "ModelTurn",
    "Planner",
    "Retriever",
    "RunDeps",
    "ToolCallRequest",
    "TurnInput",
    "Usage",
    "Workspace",
]
