"""Tools over any target that runs compose stacks: Docker hosts, Swarms and Vagrant VMs.

Deploys are recorded as Deployment revisions; a rollback redeploys the previous
succeeded revision's rendered config, so it works the same on every such target.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from tools.adapters.protocol import (
    DeployOutcome,
    Inventory,
    LogLines,
    OrchestratorEvent,
    ScaleOutcome,
    StackAdapter,
    StackStatus,
)
from tools.base import Plan, PlanChange, Tool, ToolContext, ToolInput, tool
from tools.bounded import bound_items
from tools.stack import Stack, dump_compose, load_stack
from tools.targets import TargetKind
from windflow.errors import InvalidInput, NotFound, OrchestratorError

STACK_TARGETS = {TargetKind.DOCKER, TargetKind.SWARM, TargetKind.VAGRANT}
SCALABLE = {TargetKind.DOCKER, TargetKind.SWARM}
NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MAX_EVENTS = 200


def stack_adapter(ctx: ToolContext) -> StackAdapter:
    if ctx.adapter is None or ctx.target is None:
        raise InvalidInput("this tool needs a target", hint="name the target to act on")
    adapter: StackAdapter = ctx.adapter
    return adapter


def _approval_id(ctx: ToolContext) -> str | None:
    return ctx.approval.approval_id if ctx.approval else None


def _target_id(ctx: ToolContext) -> str:
    assert ctx.target is not None
    return ctx.target.id


class StackRef(ToolInput):
    stack: str = Field(pattern=NAME, description="Name of the deployed stack (compose project)")


class ServiceRef(StackRef):
    service: str = Field(pattern=NAME, description="Service name inside the stack")


class NoInput(ToolInput):
    pass


class LogsInput(ServiceRef):
    tail: int = Field(default=200, ge=1, le=2000, description="Number of newest lines")
    since_seconds: int | None = Field(default=None, ge=1, le=7 * 86400)


class EventsInput(StackRef):
    since_seconds: int = Field(default=3600, ge=1, le=7 * 86400)


class EventsOutput(BaseModel):
    events: list[OrchestratorEvent]
    truncated: bool = False


class DeployInput(StackRef):
    compose: str = Field(
        max_length=256_000, description="The complete docker-compose YAML of the stack"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Values for ${VARIABLES} used in the compose file"
    )


class ScaleInput(ServiceRef):
    replicas: int = Field(ge=0, le=50)


class RemoveInput(StackRef):
    remove_volumes: bool = Field(default=False, description="Also delete the stack's volumes")


class RollbackOutput(BaseModel):
    stack: str
    to_revision: int
    outcome: DeployOutcome


@tool(risk="read", permission="targets:read", targets=STACK_TARGETS)
async def target_inventory(ctx: ToolContext, args: NoInput) -> Inventory:
    """List what runs on the target: containers, services or VMs, grouped by stack."""
    return await stack_adapter(ctx).inventory()


@tool(risk="read", permission="targets:read", targets=STACK_TARGETS)
async def stack_status(ctx: ToolContext, args: StackRef) -> StackStatus:
    """Show each service of a stack: state, replicas running vs desired, health, exit code."""
    return await stack_adapter(ctx).status(args.stack)


@tool(risk="read", permission="targets:read", targets=STACK_TARGETS)
async def service_logs(ctx: ToolContext, args: LogsInput) -> LogLines:
    """Fetch the newest log lines of one service of a stack (size-capped)."""
    return await stack_adapter(ctx).logs(
        args.stack, args.service, tail=args.tail, since_seconds=args.since_seconds
    )


@tool(risk="read", permission="targets:read", targets=STACK_TARGETS)
async def stack_events(ctx: ToolContext, args: EventsInput) -> EventsOutput:
    """List recent orchestrator events (starts, deaths, OOM kills, health changes) of a stack."""
    events = await stack_adapter(ctx).events(args.stack, since_seconds=args.since_seconds)
    kept, truncated = bound_items(events[-MAX_EVENTS:], MAX_EVENTS)
    return EventsOutput(events=kept, truncated=truncated or len(events) > MAX_EVENTS)


def _parse(args: DeployInput) -> Stack:
    return load_stack(args.compose, name=args.stack, file=f"{args.stack}/compose", env=args.env)


def _diff(before: str, after: str, stack: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{stack} (deployed)",
        tofile=f"{stack} (proposed)",
    )
    return "".join(lines)


async def _previous_config(ctx: ToolContext, stack: str, before: int | None = None) -> Any:
    if ctx.deployments is None or ctx.target is None:
        return None
    return await ctx.deployments.previous(
        org_id=ctx.caller.org_id,
        target_id=ctx.target.id,
        stack_name=stack,
        before_revision=before,
    )


MASKED_VALUE_MIN = 8


def displayed_config(stack: Stack, env: Mapping[str, str] | None = None) -> str:
    """The rendered compose file with the values of ``env`` put back as ${NAME} references.

    It is what plans, diffs, the deployment history and the API show; loading it with the
    same ``env`` gives the same stack, so a rollback still deploys exactly what ran.
    """
    text = dump_compose(stack)
    for name, value in sorted((env or {}).items(), key=lambda item: -len(item[1])):
        if len(value) >= MASKED_VALUE_MIN:
            text = text.replace(value, "${" + name + "}")
    return text


async def deploy_recorded(
    ctx: ToolContext, stack: Stack, env: Mapping[str, str] | None = None
) -> DeployOutcome:
    """Deploy through the context's adapter, recording a Deployment revision and its end."""
    approval_id = _approval_id(ctx)
    rendered = displayed_config(stack, env)
    record = None
    if ctx.deployments is not None:
        record = await ctx.deployments.begin(
            org_id=ctx.caller.org_id,
            target_id=_target_id(ctx),
            stack_name=stack.name,
            rendered_config=rendered,
            approval_id=approval_id,
            user_id=ctx.caller.user_id,
            env=dict(env or {}),
        )
    try:
        outcome = await stack_adapter(ctx).deploy(stack)
    except BaseException as exc:
        if record is not None and ctx.deployments is not None:
            await ctx.deployments.finish(record.id, "failed", str(exc))
        raise
    if record is not None and ctx.deployments is not None:
        await ctx.deployments.finish(record.id, "succeeded")
    return outcome


@tool(risk="mutate", permission="deployments:execute", targets=STACK_TARGETS)
async def deploy_stack(ctx: ToolContext, args: DeployInput) -> DeployOutcome:
    """Deploy or update a compose stack on the target. Only changed services are recreated;
    a failed deploy is rolled back. Needs human approval of the plan first."""
    return await deploy_recorded(ctx, _parse(args), args.env)


@deploy_stack.planner
async def plan_deploy(ctx: ToolContext, args: DeployInput) -> Plan:
    stack = _parse(args)
    changes = await stack_adapter(ctx).plan_deploy(stack)
    previous = await _previous_config(ctx, args.stack)
    diff = _diff(
        previous.rendered_config if previous else "", displayed_config(stack, args.env), args.stack
    )
    acting = [c for c in changes if c.action != "noop"]
    summary = f"deploy stack {args.stack}: " + (
        ", ".join(f"{c.action} {c.resource}" for c in acting) or "no changes"
    )
    return Plan(summary=summary, changes=changes, diff=diff)


@tool(risk="mutate", permission="deployments:execute", targets=STACK_TARGETS)
async def restart_service(ctx: ToolContext, args: ServiceRef) -> StackStatus:
    """Restart one service of a stack. Needs human approval first."""
    adapter = stack_adapter(ctx)
    await adapter.restart(args.stack, args.service)
    return await adapter.status(args.stack)


@restart_service.planner
async def _plan_restart(ctx: ToolContext, args: ServiceRef) -> Plan:
    return Plan(
        summary=f"restart {args.service} in stack {args.stack}",
        changes=[PlanChange(action="restart", resource=f"{args.stack}/{args.service}")],
    )


@tool(risk="mutate", permission="deployments:execute", targets=SCALABLE)
async def scale_service(ctx: ToolContext, args: ScaleInput) -> ScaleOutcome:
    """Set the number of replicas of one service of a stack. Needs human approval first."""
    return await stack_adapter(ctx).scale(args.stack, args.service, args.replicas)


@scale_service.planner
async def _plan_scale(ctx: ToolContext, args: ScaleInput) -> Plan:
    status = await stack_adapter(ctx).status(args.stack)
    current = next((s.desired for s in status.services if s.name == args.service), None)
    if current is None:
        raise NotFound(
            f"stack {args.stack} has no service {args.service}",
            hint=f"services: {', '.join(s.name for s in status.services) or 'none'}",
        )
    return Plan(
        summary=f"scale {args.stack}/{args.service}: {current} -> {args.replicas} replicas",
        changes=[
            PlanChange(
                action="scale",
                resource=f"{args.stack}/{args.service}",
                detail=f"{current} -> {args.replicas}",
            )
        ],
    )


async def _rollback_source(ctx: ToolContext, stack: str) -> tuple[Any, Any]:
    current = await _previous_config(ctx, stack)
    if current is None:
        raise NotFound(f"stack {stack} has no recorded deployment on this target")
    previous = await _previous_config(ctx, stack, before=current.revision)
    if previous is None:
        raise OrchestratorError(
            f"stack {stack} has only one successful deployment (revision {current.revision})",
            hint="there is nothing older to roll back to",
        )
    return current, previous


@tool(risk="mutate", permission="deployments:execute", targets=STACK_TARGETS)
async def rollback_stack(ctx: ToolContext, args: StackRef) -> RollbackOutput:
    """Roll a stack back to its previous successful deployment. Needs human approval first."""
    _current, previous = await _rollback_source(ctx, args.stack)
    stack = load_stack(previous.rendered_config, name=args.stack, env=previous.env)
    outcome = await deploy_recorded(ctx, stack, previous.env)
    return RollbackOutput(stack=args.stack, to_revision=previous.revision, outcome=outcome)


@rollback_stack.planner
async def _plan_rollback(ctx: ToolContext, args: StackRef) -> Plan:
    current, previous = await _rollback_source(ctx, args.stack)
    stack = load_stack(previous.rendered_config, name=args.stack, env=previous.env)
    changes = await stack_adapter(ctx).plan_deploy(stack)
    return Plan(
        summary=f"roll {args.stack} back from revision {current.revision} "
        f"to revision {previous.revision}",
        changes=changes,
        diff=_diff(current.rendered_config, previous.rendered_config, args.stack),
    )


@tool(risk="destructive", permission="deployments:execute", targets=STACK_TARGETS)
async def remove_stack(ctx: ToolContext, args: RemoveInput) -> DeployOutcome:
    """Stop and remove every container/service of a stack (volumes only if asked).
    Destructive: needs human approval, possibly from two people."""
    adapter = stack_adapter(ctx)
    remove: Any = adapter.remove
    if args.remove_volumes:
        return await remove(args.stack, remove_volumes=True)
    return await remove(args.stack)


@remove_stack.planner
async def _plan_remove(ctx: ToolContext, args: RemoveInput) -> Plan:
    status = await stack_adapter(ctx).status(args.stack)
    if not status.services:
        raise NotFound(f"stack {args.stack} is not deployed on this target")
    changes = [
        PlanChange(action="delete", resource=f"{args.stack}/{s.name}", detail=s.state)
        for s in status.services
    ]
    warnings = ["volumes and their data will be deleted"] if args.remove_volumes else []
    return Plan(summary=f"remove stack {args.stack}", changes=changes, warnings=warnings)


STACK_TOOLS: list[Tool[Any, Any]] = [
    target_inventory,
    stack_status,
    service_logs,
    stack_events,
    deploy_stack,
    restart_service,
    scale_service,
    rollback_stack,
    remove_stack,
]
