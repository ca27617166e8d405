"""Tools for Vagrant targets: validate, bring up, halt and destroy a stack's machines.

The generic stack tools (status, logs, deploy, remove, ...) also work on Vagrant targets;
these add what is Vagrant's own: validating the generated Vagrantfile, a plan that shows
its diff, and halting machines without destroying them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools.adapters.protocol import DeployOutcome, StackStatus
from tools.adapters.vagrant import VagrantAdapter, VagrantValidation
from tools.base import Plan, PlanChange, Tool, ToolContext, ToolInput, tool
from tools.stack import Stack, load_stack
from tools.stack_tools import deploy_recorded
from tools.targets import TargetKind
from windflow.errors import InvalidInput, NotFound

VAGRANT = {TargetKind.VAGRANT}
STACK_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MACHINE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class VagrantStackRef(ToolInput):
    stack: str = Field(pattern=STACK_NAME, description="Name of the stack on the Vagrant target")


class VagrantComposeInput(VagrantStackRef):
    compose: str = Field(
        max_length=256_000, description="The complete docker-compose YAML of the stack"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Values for ${VARIABLES} used in the compose file"
    )


class VagrantHaltInput(VagrantStackRef):
    machine: str | None = Field(
        default=None,
        pattern=MACHINE_NAME,
        description="One machine (service) to halt; all machines of the stack when omitted",
    )


def _vagrant(ctx: ToolContext) -> VagrantAdapter:
    if ctx.target is None or not isinstance(ctx.adapter, VagrantAdapter):
        raise InvalidInput("this tool needs a Vagrant target", hint="name a target of kind vagrant")
    return ctx.adapter


def _stack(args: VagrantComposeInput) -> Stack:
    return load_stack(args.compose, name=args.stack, file=f"{args.stack}/compose", env=args.env)


@tool(risk="read", permission="targets:read", targets=VAGRANT)
async def vagrant_status(ctx: ToolContext, args: VagrantStackRef) -> StackStatus:
    """Show each Vagrant machine of a stack: running, halted (exited), failed or not created,
    with its image or box and forwarded ports. An empty list means the stack is not deployed."""
    return await _vagrant(ctx).status(args.stack)


@tool(risk="read", permission="targets:read", targets=VAGRANT)
async def vagrant_validate(ctx: ToolContext, args: VagrantComposeInput) -> VagrantValidation:
    """Generate the Vagrantfile for a compose stack and check it with `vagrant validate`,
    without changing anything. Reports settings the target's provider cannot express
    (problems: a deploy would refuse) and settings it approximates or ignores (warnings)."""
    return await _vagrant(ctx).validate(_stack(args))


@tool(risk="mutate", permission="deployments:execute", targets=VAGRANT)
async def vagrant_up(ctx: ToolContext, args: VagrantComposeInput) -> DeployOutcome:
    """Deploy a compose stack on a Vagrant target: write its Vagrantfile and `vagrant up` the
    machines (a VM running the stack with compose, or one docker-provider container per
    service). Machines whose settings changed are replaced; a failed run destroys what it
    created. Needs human approval of the plan (with the Vagrantfile diff) first."""
    _vagrant(ctx)
    return await deploy_recorded(ctx, _stack(args), args.env)


@vagrant_up.planner
async def _plan_up(ctx: ToolContext, args: VagrantComposeInput) -> Plan:
    preview = await _vagrant(ctx).preview(_stack(args))
    acting = [c for c in preview.changes if c.action != "noop"]
    summary = f"vagrant up stack {args.stack} ({preview.provider} provider): " + (
        ", ".join(f"{c.action} {c.resource}" for c in acting) or "no changes"
    )
    return Plan(
        summary=summary, changes=preview.changes, diff=preview.diff, warnings=preview.warnings
    )


@tool(risk="mutate", permission="deployments:execute", targets=VAGRANT)
async def vagrant_halt(ctx: ToolContext, args: VagrantHaltInput) -> StackStatus:
    """Halt (stop) the Vagrant machines of a stack, or one of them, keeping their disks or
    containers so that a later `vagrant_up` starts them again. Needs human approval first."""
    return await _vagrant(ctx).halt(args.stack, args.machine)


@vagrant_halt.planner
async def _plan_halt(ctx: ToolContext, args: VagrantHaltInput) -> Plan:
    status = await _vagrant(ctx).status(args.stack)
    if not status.services:
        raise NotFound(f"stack {args.stack} is not deployed on this Vagrant target")
    chosen = [s for s in status.services if args.machine in (None, s.name)]
    if not chosen:
        raise NotFound(
            f"stack {args.stack} has no machine {args.machine}",
            hint=f"machines: {', '.join(s.name for s in status.services)}",
        )
    changes = [
        PlanChange(
            action="update" if s.state == "running" else "noop",
            resource=f"{args.stack}/{s.name}",
            detail="halt: stop it, keep its disk/container" if s.state == "running" else s.state,
        )
        for s in chosen
    ]
    return Plan(
        summary=f"halt {args.machine or 'all machines'} of stack {args.stack}", changes=changes
    )


@tool(risk="destructive", permission="deployments:execute", targets=VAGRANT)
async def vagrant_destroy(ctx: ToolContext, args: VagrantStackRef) -> DeployOutcome:
    """Destroy every Vagrant machine of a stack (`vagrant destroy -f`) and delete its
    project folder. VM disks and everything on them are lost. Destructive: needs human
    approval, possibly from two people."""
    return await _vagrant(ctx).remove(args.stack)


@vagrant_destroy.planner
async def _plan_destroy(ctx: ToolContext, args: VagrantStackRef) -> Plan:
    adapter = _vagrant(ctx)
    status = await adapter.status(args.stack)
    if not status.services:
        raise NotFound(f"stack {args.stack} is not deployed on this Vagrant target")
    warning = (
        "the containers are deleted; their named volumes are kept"
        if adapter.uses_docker
        else "the VM disks and all data on them are deleted"
    )
    return Plan(
        summary=f"destroy the Vagrant machines of stack {args.stack}",
        changes=[
            PlanChange(action="delete", resource=f"{args.stack}/{s.name}", detail=s.state)
            for s in status.services
        ],
        warnings=[warning],
    )


VAGRANT_TOOLS: list[Tool[Any, Any]] = [
    vagrant_status,
    vagrant_validate,
    vagrant_up,
    vagrant_halt,
    vagrant_destroy,
]
