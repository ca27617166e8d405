"""The one Tool abstraction: a typed async function with a declared risk and permission.

A tool's docstring is what the model reads. Its input and output are pydantic models, so
the JSON schema offered to the model and the validation of what the model sends are the
same thing.

Execution of a ``mutate`` or ``destructive`` tool is impossible without consuming an
approved, unexpired, unused approval bound to exactly these arguments: :meth:`Tool.execute`
asks the context's :class:`ApprovalLedger` to consume it atomically before the function
runs, and there is no other entry point to the function.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, Protocol, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.targets import TargetKind, TargetSpec
from windflow.errors import ApprovalError, InvalidInput, WindFlowError

Risk = Literal["read", "mutate", "destructive"]
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class ToolInput(BaseModel):
    """Base for tool inputs: unknown fields from the model are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


class PlanChange(BaseModel):
    action: Literal["create", "update", "recreate", "delete", "scale", "restart", "noop"]
    resource: str
    detail: str = ""


class Plan(BaseModel):
    """What a mutation will do, shown to the approver. Its hash binds the approval."""

    summary: str
    changes: list[PlanChange] = Field(default_factory=list)
    diff: str = ""
    warnings: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Caller:
    user_id: str
    org_id: str


@dataclass(frozen=True)
class ConsumedApproval:
    approval_id: str
    approved_by: tuple[str, ...]


class ApprovalLedger(Protocol):
    """Consumes an approval atomically: approved, unexpired, unused, same tool/target/args."""

    async def consume(
        self,
        *,
        approval_id: str,
        org_id: str,
        tool: str,
        target_id: str | None,
        args_hash: str,
    ) -> ConsumedApproval: ...


@dataclass(frozen=True)
class DeploymentRecord:
    id: str
    revision: int
    rendered_config: str  # values of ``env`` appear as ${NAME} references, never in clear
    status: str
    env: dict[str, str] = field(default_factory=dict)  # kept sealed at rest


class DeploymentLog(Protocol):
    """Deployment history per stack and target: what was rendered, when, and how it ended."""

    async def begin(
        self,
        *,
        org_id: str,
        target_id: str,
        stack_name: str,
        rendered_config: str,
        approval_id: str | None,
        user_id: str,
        env: Mapping[str, str] | None = None,
    ) -> DeploymentRecord: ...

    async def finish(self, deployment_id: str, status: str, error: str | None = None) -> None: ...

    async def previous(
        self, *, org_id: str, target_id: str, stack_name: str, before_revision: int | None = None
    ) -> DeploymentRecord | None:
        """The newest succeeded deployment (older than ``before_revision`` if given)."""
        ...


@dataclass(frozen=True)
class SavedStack:
    name: str
    description: str
    compose: str | None
    template_ref: str | None


class StackLibrary(Protocol):
    """The organization's saved stacks (compose sources kept in WindFlow)."""

    async def list(self, org_id: str) -> list[SavedStack]: ...

    async def get(self, org_id: str, name: str) -> SavedStack | None: ...


class TargetDirectory(Protocol):
    """The caller's organization's other targets, for tools that span two (migrations)."""

    async def find(self, name_or_id: str) -> TargetSpec:
        """The target of the caller's organization with this name or id, else NotFound."""
        ...


class EventSink(Protocol):
    async def emit(self, event_type: str, payload: Mapping[str, Any]) -> None: ...


class NullEvents:
    async def emit(self, event_type: str, payload: Mapping[str, Any]) -> None:
        return None


@dataclass
class ToolContext:
    """Everything a tool may use, passed in: never found through a global."""

    caller: Caller
    target: TargetSpec | None
    adapter: Any
    ledger: ApprovalLedger
    deployments: DeploymentLog | None = None
    events: EventSink = field(default_factory=NullEvents)
    conversation_id: str | None = None
    approval: ConsumedApproval | None = None
    library: StackLibrary | None = None
    # The template marketplace (knowledge.templates.TemplateCatalog) and the deriver of
    # template secrets: 64 bytes from the installation's key for a scope string.
    templates: Any = None
    derive_secret: Callable[[str], bytes] | None = None
    # The knowledge base (knowledge.retrieval.KnowledgeBase), None while it loads.
    knowledge: Any = None
    # Other targets of the caller's organization (never another organization's).
    directory: TargetDirectory | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def args_hash(tool: str, target_id: str | None, arguments: Mapping[str, Any]) -> str:
    """Binds an approval to one tool, one target and these exact arguments."""
    material = canonical_json({"tool": tool, "target": target_id, "args": arguments})
    return hashlib.sha256(material.encode()).hexdigest()


ToolFn = Callable[[ToolContext, In], Awaitable[Out]]
PlanFn = Callable[[ToolContext, In], Awaitable[Plan]]


class Tool(Generic[In, Out]):
    def __init__(
        self,
        fn: ToolFn[In, Out],
        *,
        name: str,
        risk: Risk,
        permission: str,
        targets: frozenset[TargetKind],
        input_model: type[In],
        output_model: type[Out],
    ) -> None:
        description = inspect.getdoc(fn)
        if not description:
            raise TypeError(f"tool {name} needs a docstring: it is the model-facing description")
        self.name = name
        self.description = description
        self.risk: Risk = risk
        self.permission = permission
        self.targets = targets
        self.input_model = input_model
        self.output_model = output_model
        self.__fn = fn
        self.__planner: PlanFn[In] | None = None

    @property
    def mutates(self) -> bool:
        return self.risk != "read"

    def planner(self, fn: PlanFn[In]) -> PlanFn[In]:
        if not self.mutates:
            raise TypeError(f"{self.name} is a read tool; only mutations have plans")
        self.__planner = fn
        return fn

    def parse(self, raw: Mapping[str, Any] | None) -> In:
        try:
            return self.input_model.model_validate(dict(raw or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise InvalidInput(
                f"invalid arguments for {self.name}: {problems}",
                hint=f"the arguments must match the schema of {self.name}",
            ) from exc

    def hash_of(self, ctx: ToolContext, args: In) -> str:
        target_id = ctx.target.id if ctx.target else None
        return args_hash(self.name, target_id, args.model_dump(mode="json"))

    async def plan(self, ctx: ToolContext, args: In) -> Plan:
        if self.__planner is None:
            return Plan(summary=f"{self.name} with {canonical_json(args.model_dump(mode='json'))}")
        return await self.__planner(ctx, args)

    async def execute(self, ctx: ToolContext, args: In, *, approval_id: str | None = None) -> Out:
        """Run the tool. Mutations first consume their approval; there is no bypass."""
        if ctx.target is not None and ctx.target.kind not in self.targets:
            raise InvalidInput(
                f"{self.name} does not work on {ctx.target.kind.value} targets",
                hint=f"it serves: {', '.join(sorted(k.value for k in self.targets))}",
            )
        if self.mutates:
            if approval_id is None:
                raise ApprovalError(
                    f"{self.name} changes infrastructure and needs an approval",
                    hint="request one; a human must approve it before it runs",
                )
            consumed = await ctx.ledger.consume(
                approval_id=approval_id,
                org_id=ctx.caller.org_id,
                tool=self.name,
                target_id=ctx.target.id if ctx.target else None,
                args_hash=self.hash_of(ctx, args),
            )
            ctx = replace(ctx, approval=consumed)
        return await self.__fn(ctx, args)

    def function_schema(self) -> dict[str, Any]:
        """The tool in OpenAI/LiteLLM function-calling format."""
        schema = self.input_model.model_json_schema()
        schema.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": schema},
        }


def tool(
    *,
    risk: Risk,
    permission: str,
    targets: set[TargetKind] | frozenset[TargetKind],
    name: str | None = None,
) -> Callable[[ToolFn[In, Out]], Tool[In, Out]]:
    """Declare a tool; the input and output models are read from the annotations."""

    def wrap(fn: ToolFn[In, Out]) -> Tool[In, Out]:
        hints = get_type_hints(fn)
        params = list(inspect.signature(fn).parameters)
        if len(params) != 2:
            raise TypeError(f"{fn.__name__} must take (ctx, args)")
        input_model, output_model = hints[params[1]], hints["return"]
        for model in (input_model, output_model):
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{fn.__name__}: inputs and outputs must be pydantic models")
        return Tool(
            fn,
            name=name or fn.__name__,
            risk=risk,
            permission=permission,
            targets=frozenset(targets),
            input_model=input_model,
            output_model=output_model,
        )

    return wrap


class ToolResult(BaseModel):
    """The one envelope every tool call returns, whatever happened."""

    status: Literal["ok", "error", "denied", "approval_required"]
    tool: str
    data: dict[str, Any] | None = None
    error: str | None = None
    hint: str | None = None
    truncated: bool = False
    approval_id: str | None = None
    plan: Plan | None = None

    @classmethod
    def ok(cls, tool: str, data: BaseModel, *, truncated: bool = False) -> ToolResult:
        return cls(status="ok", tool=tool, data=data.model_dump(mode="json"), truncated=truncated)

    @classmethod
    def failed(cls, tool: str, error: WindFlowError) -> ToolResult:
        return cls(status="error", tool=tool, error=error.message, hint=error.hint)

    @classmethod
    def denied(cls, tool: str, reason: str, hint: str | None = None) -> ToolResult:
        return cls(status="denied", tool=tool, error=reason, hint=hint)

    @classmethod
    def needs_approval(cls, tool: str, approval_id: str, plan: Plan) -> ToolResult:
        return cls(
            status="approval_required",
            tool=tool,
            approval_id=approval_id,
            plan=plan,
            hint="a human with the right role must approve this before it runs",
        )
