"""Tools over HTTP (for the CLI, bots and scripts) and the approval queue's decisions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.assistant_wiring import owner_of_open_run
from api.db.repo import resources
from api.db.types import utcnow
from api.deps import OrgDep, PageDep
from api.limits import count_token_tool_call
from api.schemas import Input, Output, Page
from guardrails.approvals import ApprovalView
from guardrails.rbac import Permission
from guardrails.redaction import redact
from tools.base import ToolResult

router = APIRouter(tags=["tools"])


class ToolOut(Output):
    name: str
    description: str
    risk: str
    permission: str
    targets: list[str]
    parameters: dict[str, Any]


class ToolCallIn(Input):
    target: str | None = Field(default=None, max_length=100, description="Target name or id")
    arguments: dict[str, Any] = Field(default_factory=dict)
    emergency: bool = Field(
        default=False,
        description="Override a closed change window (the policy says which role may)",
    )


class DecisionIn(Input):
    reason: str | None = Field(default=None, max_length=2000)


class VoteOut(Output):
    user_id: str
    decision: Literal["approve", "deny"]
    reason: str | None


class ApprovalOut(BaseModel):
    id: str
    target_id: str | None
    target_environment: str
    tool: str
    risk: str
    arguments: dict[str, Any]
    plan: dict[str, Any]
    status: str
    required_approvals: int
    requested_by: str
    decided_by: str | None
    reason: str | None
    used: bool
    thread_id: str | None
    votes: list[VoteOut]
    created_at: Any
    expires_at: Any

    @classmethod
    def of(cls, view: ApprovalView) -> ApprovalOut:
        return cls(
            id=view.id,
            target_id=view.target_id,
            target_environment=view.target_environment,
            tool=view.tool,
            risk=view.risk,
            # Approvers see what will run, but never secret values (by key and by shape).
            arguments=redact(view.arguments),
            plan=redact(view.plan),
            status=view.status,
            required_approvals=view.required_approvals,
            requested_by=view.requested_by,
            decided_by=view.decided_by,
            reason=view.reason,
            used=view.used_at is not None,
            thread_id=view.thread_id,
            votes=[
                VoteOut(user_id=v.user_id, decision=v.decision, reason=v.reason) for v in view.votes
            ],
            created_at=view.created_at,
            expires_at=view.expires_at,
        )


@router.get("/tools", response_model=list[ToolOut])
async def list_tools(
    ctx: OrgDep, target: Annotated[str | None, Query(max_length=100)] = None
) -> list[ToolOut]:
    """The tools you may use, on one target if named (their JSON schemas included)."""
    tooling = ctx.state.tooling
    spec = await tooling.resolve_target(ctx.session, ctx.org_id, target) if target else None
    candidates = tooling.registry.for_kind(spec.kind if spec else None)
    visible = tooling.gate.visible_tools(
        candidates, ctx.caller.principal, ctx.org_id, spec.environment if spec else None
    )
    return [
        ToolOut(
            name=t.name,
            description=t.description,
            risk=t.risk,
            permission=t.permission,
            targets=sorted(k.value for k in t.targets),
            parameters=t.function_schema()["function"]["parameters"],
        )
        for t in visible
    ]


@router.post("/tools/{name}/call", response_model=ToolResult)
async def call_tool(name: str, body: ToolCallIn, ctx: OrgDep) -> ToolResult:
    """Call a tool through the guardrails. Mutations answer approval_required with a plan."""
    tooling = ctx.state.tooling
    tool = tooling.registry.get(name)
    spec = (
        await tooling.resolve_target(ctx.session, ctx.org_id, body.target) if body.target else None
    )
    await count_token_tool_call(ctx)
    tool_ctx = tooling.context(user_id=ctx.user_id, org_id=ctx.org_id, target=spec)
    return await tooling.gate.call(
        tool, tool_ctx, ctx.caller.principal, body.arguments, emergency=body.emergency
    )


@router.get("/approvals", response_model=Page[ApprovalOut], tags=["approvals"])
async def approvals(
    ctx: OrgDep,
    page: PageDep,
    status: Annotated[
        Literal["pending", "approved", "denied", "expired", "all"],
        Query(description="'all' lists every status"),
    ] = "pending",
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    environment: Annotated[
        list[str] | None, Query(description="Target environments; 'none' for no target")
    ] = None,
    older_than_seconds: Annotated[int | None, Query(ge=0)] = None,
    newer_than_seconds: Annotated[int | None, Query(ge=0)] = None,
    decidable: Annotated[
        bool, Query(description="Only those your role may decide (by environment)")
    ] = False,
) -> Page[ApprovalOut]:
    """The approval queue of the organization, newest first, with filters."""
    ctx.require(Permission.APPROVALS_READ)
    now = utcnow()
    environments: set[str] | None = set(environment) if environment else None
    if decidable:
        allowed = {
            env
            for env in await resources.target_environments(ctx.session, ctx.org_id) | {"none"}
            if ctx.state.rbac.authorize(
                ctx.caller.principal, Permission.APPROVALS_DECIDE, ctx.org_id, environment=env
            ).allowed
        }
        environments = allowed if environments is None else environments & allowed
    result = await ctx.state.tooling.store.page(
        ctx.org_id,
        page.offset,
        page.limit,
        status=None if status == "all" else status,
        target_id=target_id,
        environments=environments,
        created_before=now - timedelta(seconds=older_than_seconds)
        if older_than_seconds is not None
        else None,
        created_after=now - timedelta(seconds=newer_than_seconds)
        if newer_than_seconds is not None
        else None,
    )
    return Page[ApprovalOut].of(result, ApprovalOut.of)


@router.get("/approvals/{approval_id}", response_model=ApprovalOut, tags=["approvals"])
async def get_approval(approval_id: str, ctx: OrgDep) -> ApprovalOut:
    view = await ctx.state.tooling.approvals.get(ctx.caller.principal, ctx.org_id, approval_id)
    return ApprovalOut.of(view)


async def _decide(ctx: OrgDep, approval_id: str, approve: bool, reason: str | None) -> ApprovalOut:
    view = await ctx.state.tooling.approvals.decide(
        ctx.caller.principal, ctx.org_id, approval_id, approve=approve, reason=reason
    )
    await ctx.audit(
        "approvals.approve" if approve else "approvals.deny",
        {"approval_id": approval_id, "status": view.status},
        target_id=view.target_id,
    )
    if view.status in ("approved", "denied"):
        # The run that asked for it continues here, in whichever process took the decision.
        await ctx.session.commit()
        owner = await owner_of_open_run(ctx.state.db, view)
        if owner is not None:
            await ctx.state.require_assistant().resume(owner, view.id, view.status)
    return ApprovalOut.of(view)


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalOut, tags=["approvals"])
async def approve(approval_id: str, body: DecisionIn, ctx: OrgDep) -> ApprovalOut:
    """Approve a planned change (the role needed depends on the target's environment)."""
    return await _decide(ctx, approval_id, True, body.reason)


@router.post("/approvals/{approval_id}/deny", response_model=ApprovalOut, tags=["approvals"])
async def deny(approval_id: str, body: DecisionIn, ctx: OrgDep) -> ApprovalOut:
    """Deny a planned change."""
    return await _decide(ctx, approval_id, False, body.reason)


@router.post("/approvals/{approval_id}/execute", response_model=ToolResult, tags=["approvals"])
async def execute(
    approval_id: str,
    ctx: OrgDep,
    emergency: Annotated[
        bool, Query(description="Override a closed change window (role per the policy)")
    ] = False,
) -> ToolResult:
    """Run an approved change, once, with exactly the approved arguments."""
    tooling = ctx.state.tooling
    view = await tooling.approvals.get(ctx.caller.principal, ctx.org_id, approval_id)
    tool = tooling.registry.get(view.tool)
    spec = None
    if view.target_id is not None:
        spec = await tooling.resolve_target(ctx.session, ctx.org_id, view.target_id)
    tool_ctx = tooling.context(user_id=ctx.user_id, org_id=ctx.org_id, target=spec)
    return await tooling.gate.execute_approved(
        tool, tool_ctx, ctx.caller.principal, approval_id, emergency=emergency
    )
