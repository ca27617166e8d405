"""Move a deployed stack from one target to another, as approval-gated steps.

``plan_migration`` (read) analyses what WindFlow last deployed on the source: which
destination features are missing, what the converted config looks like, where the data
lives and how to carry it over, and the ordered steps. Each step that changes something is
its own tool call and its own approval: ``migrate_stack`` deploys the converted stack on
the destination, ``verify_migration`` checks it is up, the traffic switch is the user's,
and ``remove_stack`` on the source ends it. Nothing here bypasses the gate.

The approved ``migrate_stack`` is bound to the source's deployment revision: if the
source changed after the plan was approved, the move is refused instead of deploying
something nobody saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from tools.adapters.protocol import ServiceStatus, StackStatus
from tools.base import (
    DeploymentRecord,
    Plan,
    PlanChange,
    Tool,
    ToolContext,
    ToolInput,
    tool,
)
from tools.migration_data import data_notes, switch_notes
from tools.stack import Stack, load_stack
from tools.stack_tools import NAME, deploy_recorded, displayed_config, stack_adapter
from tools.targets import TargetKind, TargetSpec
from windflow.errors import Conflict, InvalidInput, NotFound

SOURCES = frozenset({TargetKind.DOCKER, TargetKind.SWARM, TargetKind.VAGRANT})
DESTINATIONS = frozenset({TargetKind.DOCKER, TargetKind.SWARM, TargetKind.KUBERNETES})
MAX_WAIT_SECONDS = 300
POLL_SECONDS = 2.0


class PlanMigrationInput(ToolInput):
    stack: str = Field(pattern=NAME, description="The deployed stack to move (on this target)")
    to_target: str = Field(min_length=1, max_length=200, description="Destination target name")


class MigrateInput(ToolInput):
    stack: str = Field(pattern=NAME, description="The stack to deploy here, converted")
    from_target: str = Field(min_length=1, max_length=200, description="Source target name")
    source_revision: int = Field(
        ge=1, description="The source deployment revision the plan was made from"
    )


class VerifyInput(ToolInput):
    stack: str = Field(pattern=NAME, description="The migrated stack (on this target)")
    from_target: str = Field(min_length=1, max_length=200, description="Source target name")
    wait_seconds: int = Field(
        default=60, ge=0, le=MAX_WAIT_SECONDS, description="How long to wait for it to be up"
    )


class Incompatibility(BaseModel):
    service: str | None
    field: str
    reason: str
    blocking: bool = False


class MigrationStep(BaseModel):
    order: int
    title: str
    tool: str | None = Field(description="The tool call for this step; None for a manual step")
    target: str | None = None
    arguments: dict[str, object] = Field(default_factory=dict)
    risk: Literal["read", "mutate", "destructive", "manual"]
    detail: str = ""


class MigrationPlan(BaseModel):
    stack: str
    source: str
    source_kind: str
    source_revision: int
    destination: str
    destination_kind: str
    ready: bool = Field(description="False when a blocking incompatibility must be fixed first")
    incompatibilities: list[Incompatibility]
    data_notes: list[str]
    switch_notes: list[str]
    converted_config: str = Field(description="What the destination will run (secrets as ${X})")
    steps: list[MigrationStep]


class ServiceCheck(BaseModel):
    service: str
    ok: bool
    detail: str


class MigrationCheck(BaseModel):
    stack: str
    destination: str
    ok: bool
    summary: str
    services: list[ServiceCheck]
    waited_seconds: float


@dataclass(frozen=True)
class Source:
    target: TargetSpec
    record: DeploymentRecord
    stack: Stack


@dataclass(frozen=True)
class Converted:
    stack: Stack | None  # compose destinations deploy this model
    manifests: str | None  # Kubernetes destinations apply these
    displayed: str
    incompatibilities: list[Incompatibility]


def _kind_label(kind: TargetKind) -> str:
    return kind.value


def _here(ctx: ToolContext) -> TargetSpec:
    if ctx.target is None:
        raise InvalidInput("this tool needs a target", hint="name the target to act on")
    return ctx.target


async def _other_target(ctx: ToolContext, name: str) -> TargetSpec:
    if ctx.directory is None:
        raise InvalidInput(
            "this tool needs access to the organization's targets",
            hint="call it through the WindFlow API or assistant",
        )
    return await ctx.directory.find(name)


async def load_source(ctx: ToolContext, source: TargetSpec, stack: str) -> Source:
    """What WindFlow last deployed successfully for this stack on the source target."""
    if source.kind not in SOURCES:
        raise InvalidInput(
            f"cannot migrate from a {source.kind.value} target: WindFlow can only move stacks "
            "it deployed from a compose file (docker, swarm or vagrant targets)",
            hint="deploy the stack on the destination from its compose file instead",
        )
    if ctx.deployments is None:
        raise InvalidInput("no deployment history is available to this tool")
    record = await ctx.deployments.previous(
        org_id=ctx.caller.org_id, target_id=source.id, stack_name=stack
    )
    if record is None:
        raise NotFound(
            f"WindFlow has no successful deployment of stack {stack!r} on {source.name}",
            hint="only stacks WindFlow deployed can be migrated; deploy it through WindFlow "
            "first, or deploy its compose file on the destination directly",
        )
    loaded = load_stack(
        record.rendered_config, name=stack, file=f"{stack}@{source.name}", env=record.env
    )
    return Source(target=source, record=record, stack=loaded)


def _shown_manifests(text: str, env: Mapping[str, str]) -> str:
    """Manifests as plans and history show them: Secret values never, env values as ${X}."""
    documents = []
    for document in yaml.safe_load_all(text):
        if isinstance(document, dict) and document.get("kind") == "Secret":
            for key in ("data", "stringData"):
                if isinstance(document.get(key), dict):
                    document[key] = dict.fromkeys(document[key], "<redacted>")
        documents.append(document)
    shown = yaml.safe_dump_all(documents, sort_keys=False)
    for name, value in sorted(env.items(), key=lambda item: -len(item[1])):
        if len(value) >= 8:
            shown = shown.replace(value, "${" + name + "}")
    return shown


def _blocking(stack: Stack) -> list[Incompatibility]:
    found = []
    for name, service in sorted(stack.services.items()):
        if service.build is not None and not service.image:
            found.append(
                Incompatibility(
                    service=name,
                    field="build",
                    reason="the service is built from source and has no image: push an image "
                    "to a registry the destination can pull from and set `image:`",
                    blocking=True,
                )
            )
    return found


def convert_for(source: Source, destination: TargetSpec) -> Converted:
    """The source stack as the destination runs it, with what could not be carried over."""
    env = source.record.env
    problems = _blocking(source.stack)
    if destination.kind == TargetKind.DOCKER:
        return Converted(
            stack=source.stack,
            manifests=None,
            displayed=displayed_config(source.stack, env),
            incompatibilities=problems,
        )
    from tools.convert import convert  # the converters load their schemas lazily
    from tools.convert.kubernetes import ALL_IN_ONE
    from tools.convert.swarm import STACK_FILE

    kind: Literal["swarm", "kubernetes"] = (
        "swarm" if destination.kind == TargetKind.SWARM else "kubernetes"
    )
    namespace = destination.connection.get("namespace") if kind == "kubernetes" else None
    conversion = convert(source.stack, kind, namespace=str(namespace) if namespace else None)
    problems += [
        Incompatibility(service=item.service, field=item.field, reason=item.reason)
        for item in conversion.unmapped
    ]
    text = conversion.files[STACK_FILE if kind == "swarm" else ALL_IN_ONE]
    if kind == "swarm":
        converted = load_stack(text, name=source.stack.name, file=f"{source.stack.name}@swarm")
        return Converted(
            stack=converted,
            manifests=None,
            displayed=displayed_config(converted, env),
            incompatibilities=problems,
        )
    return Converted(
        stack=None,
        manifests=text + "\n",
        displayed=_shown_manifests(text, env),
        incompatibilities=problems,
    )


def _steps(stack: str, source: Source, destination: TargetSpec) -> list[MigrationStep]:
    migrate = {"stack": stack, "from_target": source.target.name}
    return [
        MigrationStep(
            order=1,
            title=f"Deploy the converted stack on {destination.name}",
            tool="migrate_stack",
            target=destination.name,
            arguments={**migrate, "source_revision": source.record.revision},
            risk="mutate",
            detail="the source keeps running; needs approval",
        ),
        MigrationStep(
            order=2,
            title=f"Verify every service is up on {destination.name}",
            tool="verify_migration",
            target=destination.name,
            arguments={**migrate, "wait_seconds": 60},
            risk="read",
        ),
        MigrationStep(
            order=3,
            title="Copy the data and switch traffic to the destination",
            tool=None,
            risk="manual",
            detail="see the data and switch notes; WindFlow does not move DNS or proxies",
        ),
        MigrationStep(
            order=4,
            title=f"Remove the old stack from {source.target.name} (volumes are kept)",
            tool="remove_stack",
            target=source.target.name,
            arguments={"stack": stack, "remove_volumes": False},
            risk="destructive",
            detail="only after step 2 passed and traffic was switched; needs approval",
        ),
        MigrationStep(
            order=5,
            title=f"Validate the stack on {destination.name} after the switch",
            tool="verify_migration",
            target=destination.name,
            arguments={**migrate, "wait_seconds": 0},
            risk="read",
        ),
    ]


def _check_route(source: TargetSpec, destination: TargetSpec) -> None:
    if destination.kind not in DESTINATIONS:
        raise InvalidInput(
            f"cannot migrate to a {destination.kind.value} target",
            hint="destinations can be docker, swarm or kubernetes targets",
        )
    if destination.id == source.id:
        raise InvalidInput(
            f"{source.name} is both the source and the destination",
            hint="name another target to move the stack to",
        )


@tool(risk="read", permission="targets:read", targets=SOURCES)
async def plan_migration(ctx: ToolContext, args: PlanMigrationInput) -> MigrationPlan:
    """Plan moving a deployed stack from this target to another one (docker -> swarm,
    docker/swarm -> kubernetes, a Vagrant VM -> docker): what cannot be carried over, the
    converted config, how to carry the data, and the ordered steps. Changes nothing; each
    step that changes something is a separate call that needs its own approval."""
    source_target = _here(ctx)
    destination = await _other_target(ctx, args.to_target)
    _check_route(source_target, destination)
    source = await load_source(ctx, source_target, args.stack)
    converted = convert_for(source, destination)
    return MigrationPlan(
        stack=args.stack,
        source=source_target.name,
        source_kind=_kind_label(source_target.kind),
        source_revision=source.record.revision,
        destination=destination.name,
        destination_kind=_kind_label(destination.kind),
        ready=not any(i.blocking for i in converted.incompatibilities),
        incompatibilities=converted.incompatibilities,
        data_notes=data_notes(source.stack, source_target, destination),
        switch_notes=switch_notes(source.stack, source_target, destination),
        converted_config=converted.displayed,
        steps=_steps(args.stack, source, destination),
    )


async def _current_source(ctx: ToolContext, args: MigrateInput) -> tuple[Source, Converted]:
    destination = _here(ctx)
    source_target = await _other_target(ctx, args.from_target)
    _check_route(source_target, destination)
    source = await load_source(ctx, source_target, args.stack)
    if source.record.revision != args.source_revision:
        raise Conflict(
            f"stack {args.stack} on {source_target.name} is at revision "
            f"{source.record.revision}, not {args.source_revision} as planned",
            hint="plan the migration again so the approver sees what will be deployed",
        )
    converted = convert_for(source, destination)
    blocking = [i for i in converted.incompatibilities if i.blocking]
    if blocking:
        raise InvalidInput(
            "the stack cannot be migrated yet: "
            + "; ".join(f"{i.service}: {i.reason}" for i in blocking),
            hint="fix these in the source stack and plan the migration again",
        )
    return source, converted


async def migrated_config(ctx: ToolContext, args: MigrateInput) -> Stack | str:
    """What ``migrate_stack`` would run here: a stack model, or Kubernetes manifests."""
    _, converted = await _current_source(ctx, args)
    if converted.manifests is not None:
        return converted.manifests
    assert converted.stack is not None
    return converted.stack


class MigrateOutcome(BaseModel):
    stack: str
    source: str
    source_revision: int
    destination: str
    status: StackStatus


@tool(risk="mutate", permission="deployments:execute", targets=DESTINATIONS)
async def migrate_stack(ctx: ToolContext, args: MigrateInput) -> MigrateOutcome:
    """Deploy here a stack that runs on another target, converted for this target's kind
    (the step after plan_migration). The source keeps running. Needs human approval of
    the plan first, and refuses if the source changed since the plan."""
    source, converted = await _current_source(ctx, args)
    destination = _here(ctx)
    if converted.manifests is not None:
        await _apply_recorded(ctx, args.stack, converted, source.record.env)
    else:
        assert converted.stack is not None
        await deploy_recorded(ctx, converted.stack, source.record.env)
    return MigrateOutcome(
        stack=args.stack,
        source=source.target.name,
        source_revision=source.record.revision,
        destination=destination.name,
        status=await stack_adapter(ctx).status(args.stack),
    )


async def _apply_recorded(
    ctx: ToolContext, stack: str, converted: Converted, env: Mapping[str, str]
) -> None:
    assert converted.manifests is not None and ctx.target is not None
    record = None
    if ctx.deployments is not None:
        record = await ctx.deployments.begin(
            org_id=ctx.caller.org_id,
            target_id=ctx.target.id,
            stack_name=stack,
            rendered_config=converted.displayed,
            approval_id=ctx.approval.approval_id if ctx.approval else None,
            user_id=ctx.caller.user_id,
            env=dict(env),
        )
    try:
        await ctx.adapter.apply(stack, converted.manifests)
    except BaseException as exc:
        if record is not None and ctx.deployments is not None:
            await ctx.deployments.finish(record.id, "failed", str(exc))
        raise
    if record is not None and ctx.deployments is not None:
        await ctx.deployments.finish(record.id, "succeeded")


@migrate_stack.planner
async def _plan_migrate(ctx: ToolContext, args: MigrateInput) -> Plan:
    source, converted = await _current_source(ctx, args)
    destination = _here(ctx)
    if converted.manifests is not None:
        outcome = await ctx.adapter.apply(args.stack, converted.manifests, dry_run=True)
        changes = [
            PlanChange(
                action="create" if o.action == "created" else "update",
                resource=f"{o.kind}/{o.name}",
                detail=o.action,
            )
            for o in outcome.objects
        ]
    else:
        assert converted.stack is not None
        changes = await stack_adapter(ctx).plan_deploy(converted.stack)
    warnings = [
        f"{i.service or 'stack'}: {i.field}: {i.reason}" for i in converted.incompatibilities
    ]
    warnings += data_notes(source.stack, source.target, destination)
    return Plan(
        summary=f"migrate stack {args.stack} from {source.target.name} (revision "
        f"{source.record.revision}) to {destination.name}: deploy it converted for "
        f"{destination.kind.value}; {source.target.name} keeps running",
        changes=changes,
        diff=converted.displayed,
        warnings=warnings,
    )


# Reasons that waiting will not fix: the check reports them at once instead of waiting.
HOPELESS_REASONS = frozenset(
    {
        "Unschedulable",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)


def _hopeless(service: ServiceStatus) -> bool:
    reasons = set(getattr(service, "pod_reasons", ()) or ())
    return service.state in ("failed", "exited") or bool(reasons & HOPELESS_REASONS)


def _service_check(service: ServiceStatus) -> ServiceCheck:
    up = service.state == "running" and service.health in ("healthy", "none")
    detail = f"{service.state}, {service.running}/{service.desired} running"
    if service.health != "none":
        detail += f", {service.health}"
    reasons = list(getattr(service, "pod_reasons", ()) or ())
    if reasons and not up:
        detail += f" ({', '.join(reasons)})"
    if service.message and not up:
        detail += f": {service.message}"
    return ServiceCheck(service=service.name, ok=up, detail=detail)


def _compare(expected: list[str], status: StackStatus) -> list[ServiceCheck]:
    seen = {s.name: s for s in status.services}
    return [
        _service_check(seen[name])
        if name in seen
        else ServiceCheck(service=name, ok=False, detail="not found on the destination")
        for name in expected
    ]


@tool(risk="read", permission="targets:read", targets=DESTINATIONS)
async def verify_migration(ctx: ToolContext, args: VerifyInput) -> MigrationCheck:
    """Check a migrated stack on this target: every service of the source stack exists
    here and is running and healthy. Waits up to wait_seconds for it to come up. Run it
    before removing the old stack and again after switching traffic."""
    destination = _here(ctx)
    source_target = await _other_target(ctx, args.from_target)
    source = await load_source(ctx, source_target, args.stack)
    expected = sorted(source.stack.services)
    adapter = stack_adapter(ctx)
    started = time.monotonic()
    while True:
        status = await adapter.status(args.stack)
        checks = _compare(expected, status)
        waited = time.monotonic() - started
        down = {c.service for c in checks if not c.ok}
        stuck = {s.name for s in status.services if s.name in down and _hopeless(s)}
        if not down or down == stuck or waited >= args.wait_seconds:
            break
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, args.wait_seconds - waited)))
    failing = [c for c in checks if not c.ok]
    summary = (
        f"all {len(checks)} services of {args.stack} are up on {destination.name}"
        if not failing
        else f"{len(failing)} of {len(checks)} services are not up on {destination.name}: "
        + ", ".join(f"{c.service} ({c.detail})" for c in failing)
        + f"; keep {source_target.name} serving until this passes"
    )
    return MigrationCheck(
        stack=args.stack,
        destination=destination.name,
        ok=not failing,
        summary=summary,
        services=checks,
        waited_seconds=round(waited, 1),
    )


MIGRATION_TOOLS: list[Tool[Any, Any]] = [plan_migration, migrate_stack, verify_migration]
