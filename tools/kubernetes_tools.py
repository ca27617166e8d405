"""Tools for Kubernetes targets: stacks of manifests applied to the target's namespace.

A stack is every object labelled ``app.kubernetes.io/part-of=<stack>``. Reads run at once;
applying, scaling and undoing a rollout need an approved plan (the planners use the API
server's dry run, so the plan shows what the server would really do); deleting a stack is
destructive.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.adapters.kubernetes import KubernetesAdapter
from tools.adapters.kubernetes_manifests import ApplyOutcome
from tools.adapters.kubernetes_objects import (
    DescribeResult,
    PodInfo,
    RolloutStatus,
    RolloutUndoOutcome,
    WorkloadStatus,
)
from tools.adapters.protocol import (
    DeployOutcome,
    Inventory,
    LogLines,
    ScaleOutcome,
)
from tools.base import Plan, PlanChange, Tool, ToolContext, ToolInput, tool
from tools.bounded import bound_items
from tools.stack_tools import EventsOutput
from tools.targets import TargetKind
from windflow.errors import InvalidInput, NotFound

K8S = {TargetKind.KUBERNETES}
STACK = r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$"
OBJECT = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
MAX_EVENTS = 200
MAX_PODS = 100
ACTIONS: dict[str, Literal["create", "update", "noop"]] = {
    "created": "create",
    "configured": "update",
    "unchanged": "noop",
}


def _adapter(ctx: ToolContext) -> KubernetesAdapter:
    if not isinstance(ctx.adapter, KubernetesAdapter):
        kind = ctx.target.kind.value if ctx.target else "no"
        raise InvalidInput(
            f"this tool works on Kubernetes targets, and this is a {kind} target",
            hint="choose a target of kind kubernetes, or use the stack tools for this one",
        )
    return ctx.adapter


class NoInput(ToolInput):
    pass


class StackRef(ToolInput):
    stack: str = Field(
        pattern=STACK,
        description="Stack name: WindFlow labels the stack's objects "
        "app.kubernetes.io/part-of=<stack>",
    )


class DeploymentRef(StackRef):
    deployment: str = Field(pattern=OBJECT, description="Name of a Deployment of the stack")


class StackStatusOutput(BaseModel):
    stack: str
    namespace: str
    healthy: bool
    workloads: list[WorkloadStatus]
    pods: list[PodInfo]
    pods_truncated: bool = False


class PodLogsInput(StackRef):
    pod: str = Field(
        pattern=OBJECT,
        description="A pod name, or a Deployment/StatefulSet/DaemonSet name (one of its pods)",
    )
    container: str | None = Field(
        default=None, pattern=OBJECT, description="Container name; the pod's first if unset"
    )
    tail: int = Field(default=200, ge=1, le=2000, description="Number of newest lines")
    since_seconds: int | None = Field(default=None, ge=1, le=7 * 86400)
    previous: bool = Field(
        default=False, description="Logs of the previous, crashed container (crash loops)"
    )


class EventsInput(StackRef):
    since_seconds: int = Field(default=3600, ge=1, le=7 * 86400)


class DescribeInput(ToolInput):
    kind: str = Field(
        pattern=r"^[A-Za-z]{2,40}$",
        description="Kind or short name: deployment (deploy), statefulset (sts), daemonset "
        "(ds), replicaset (rs), pod (po), service (svc), configmap (cm), secret (keys only), "
        "pvc, ingress (ing), job, cronjob, hpa, serviceaccount (sa)",
    )
    name: str = Field(pattern=OBJECT, description="Object name in the target's namespace")


class ApplyInput(StackRef):
    manifests: str = Field(
        min_length=1,
        max_length=512_000,
        description="Kubernetes manifests as multi-document YAML ('---' between objects). "
        "Objects must belong to the target's namespace (omit metadata.namespace); "
        "cluster-scoped kinds are refused",
    )


class ScaleInput(DeploymentRef):
    replicas: int = Field(ge=0, le=100, description="Wanted number of pods; 0 stops them all")


class UndoInput(DeploymentRef):
    to_revision: int | None = Field(
        default=None, ge=1, description="Revision to go back to; the previous one if unset"
    )


class DeleteInput(StackRef):
    selector: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_./=!, -]{1,200}$",
        description="Optional extra label selector that narrows what is deleted, e.g. tier=cache",
    )


@tool(risk="read", permission="targets:read", targets=K8S)
async def k8s_list_workloads(ctx: ToolContext, args: NoInput) -> Inventory:
    """List the workloads of the target's namespace (Deployments, StatefulSets, DaemonSets
    and unowned pods) with their stack, state and image."""
    return await _adapter(ctx).inventory()


@tool(risk="read", permission="targets:read", targets=K8S)
async def k8s_stack_status(ctx: ToolContext, args: StackRef) -> StackStatusOutput:
    """Show a Kubernetes stack's health: per workload desired/ready/updated replicas,
    conditions, and why pods do not run (CrashLoopBackOff, ImagePullBackOff, Unschedulable);
    plus each pod's phase, node and restarts."""
    adapter = _adapter(ctx)
    status = await adapter.status(args.stack)
    pods, truncated = bound_items(await adapter.pods(args.stack), MAX_PODS)
    return StackStatusOutput(
        stack=args.stack,
        namespace=adapter.namespace,
        healthy=status.healthy,
        workloads=[s for s in status.services if isinstance(s, WorkloadStatus)],
        pods=pods,
        pods_truncated=truncated,
    )


@tool(risk="read", permission="targets:read", targets=K8S)
async def k8s_pod_logs(ctx: ToolContext, args: PodLogsInput) -> LogLines:
    """Fetch the newest log lines of a pod of a stack (or of one pod of a workload),
    size-capped. Set previous=true to read the crashed container of a crash loop."""
    return await _adapter(ctx).logs(
        args.stack,
        args.pod,
        container=args.container,
        tail=args.tail,
        since_seconds=args.since_seconds,
        previous=args.previous,
    )


@tool(risk="read", permission="targets:read", targets=K8S)
async def k8s_events(ctx: ToolContext, args: EventsInput) -> EventsOutput:
    """List recent Kubernetes events about a stack's objects (scheduling failures, image
    pulls, crashes, scaling), oldest first; the newest 200 at most."""
    events = await _adapter(ctx).events(args.stack, since_seconds=args.since_seconds)
    return EventsOutput(events=events[-MAX_EVENTS:], truncated=len(events) > MAX_EVENTS)


@tool(risk="read", permission="targets:read", targets=K8S)
async def k8s_describe(ctx: ToolContext, args: DescribeInput) -> DescribeResult:
    """Describe one object of the target's namespace like kubectl describe: labels,
    replicas or container states, conditions and its recent events. Secret and ConfigMap
    values are never shown, only their keys."""
    return await _adapter(ctx).describe(args.kind, args.name)


@tool(risk="read", permission="targets:read", targets=K8S)
async def k8s_rollout_status(ctx: ToolContext, args: DeploymentRef) -> RolloutStatus:
    """Show a Deployment's rollout: revision, updated/ready/available vs desired replicas,
    whether it completed, and whether it is stuck (progress deadline exceeded)."""
    return await _adapter(ctx).rollout_status(args.stack, args.deployment)


@tool(risk="mutate", permission="deployments:execute", targets=K8S)
async def k8s_apply_manifests(ctx: ToolContext, args: ApplyInput) -> ApplyOutcome:
    """Apply Kubernetes manifests as a stack (server-side apply into the target's
    namespace). Unchanged objects are left alone; if one object is rejected, the objects
    this apply created are removed again. Needs human approval of the plan first."""
    adapter = _adapter(ctx)
    record = None
    if ctx.deployments is not None and ctx.target is not None:
        record = await ctx.deployments.begin(
            org_id=ctx.caller.org_id,
            target_id=ctx.target.id,
            stack_name=args.stack,
            rendered_config=args.manifests,
            approval_id=ctx.approval.approval_id if ctx.approval else None,
            user_id=ctx.caller.user_id,
        )
    try:
        outcome = await adapter.apply(args.stack, args.manifests)
    except BaseException as exc:
        if record is not None and ctx.deployments is not None:
            await ctx.deployments.finish(record.id, "failed", str(exc))
        raise
    if record is not None and ctx.deployments is not None:
        await ctx.deployments.finish(record.id, "succeeded")
    return outcome


@k8s_apply_manifests.planner
async def _plan_apply(ctx: ToolContext, args: ApplyInput) -> Plan:
    outcome = await _adapter(ctx).apply(args.stack, args.manifests, dry_run=True)
    changes = [
        PlanChange(action=ACTIONS[o.action], resource=f"{o.kind}/{o.name}", detail=o.action)
        for o in outcome.objects
    ]
    counts = Counter(o.action for o in outcome.objects)
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    return Plan(
        summary=f"apply stack {args.stack} to namespace {outcome.namespace}: {summary}",
        changes=changes,
        diff=outcome.diff,
        warnings=outcome.warnings,
    )


@tool(risk="mutate", permission="deployments:execute", targets=K8S)
async def k8s_scale_deployment(ctx: ToolContext, args: ScaleInput) -> ScaleOutcome:
    """Set the number of replicas of a Deployment of a stack. A later apply of the stack's
    manifests sets it back to their replicas. Needs human approval first."""
    return await _adapter(ctx).scale(args.stack, args.deployment, args.replicas)


@k8s_scale_deployment.planner
async def _plan_scale(ctx: ToolContext, args: ScaleInput) -> Plan:
    current = await _adapter(ctx).replicas(args.stack, args.deployment)
    change = f"{current} -> {args.replicas} replicas"
    return Plan(
        summary=f"scale {args.stack}/{args.deployment}: {change}",
        changes=[
            PlanChange(
                action="scale" if current != args.replicas else "noop",
                resource=f"Deployment/{args.deployment}",
                detail=change,
            )
        ],
        warnings=["0 replicas stops every pod of the deployment"] if args.replicas == 0 else [],
    )


@tool(risk="mutate", permission="deployments:execute", targets=K8S)
async def k8s_rollout_undo(ctx: ToolContext, args: UndoInput) -> RolloutUndoOutcome:
    """Roll a Deployment back to an earlier revision (the previous one by default), like
    kubectl rollout undo: its pod template is restored from that revision's ReplicaSet.
    Needs human approval first."""
    return await _adapter(ctx).rollout_undo(args.stack, args.deployment, args.to_revision)


@k8s_rollout_undo.planner
async def _plan_undo(ctx: ToolContext, args: UndoInput) -> Plan:
    undo = await _adapter(ctx).rollout_undo(
        args.stack, args.deployment, args.to_revision, dry_run=True
    )
    images = f"images {', '.join(undo.images_before)} -> {', '.join(undo.images_after)}"
    detail = f"revision {undo.from_revision} -> {undo.to_revision}: {images}"
    if undo.skipped:
        detail = f"the template already matches revision {undo.to_revision}"
    return Plan(
        summary=f"roll back {args.stack}/{args.deployment}: {detail}",
        changes=[
            PlanChange(
                action="noop" if undo.skipped else "update",
                resource=f"Deployment/{args.deployment}",
                detail=detail,
            )
        ],
        diff=undo.diff,
        warnings=[] if undo.skipped else ["the next apply of the stack's manifests undoes this"],
    )


@tool(risk="destructive", permission="deployments:execute", targets=K8S)
async def k8s_delete_stack(ctx: ToolContext, args: DeleteInput) -> DeployOutcome:
    """Delete every object of a Kubernetes stack (workloads, services, config maps,
    secrets, volume claims, ingresses, jobs...), optionally narrowed by a label selector.
    Destructive: needs human approval, possibly from two people."""
    return await _adapter(ctx).delete(args.stack, selector_extra=args.selector)


@k8s_delete_stack.planner
async def _plan_delete(ctx: ToolContext, args: DeleteInput) -> Plan:
    adapter = _adapter(ctx)
    outcome = await adapter.delete(args.stack, selector_extra=args.selector, dry_run=True)
    if not outcome.removed:
        raise NotFound(
            f"stack {args.stack} has no objects in namespace {adapter.namespace}"
            + (f" matching {args.selector}" if args.selector else ""),
            hint="list the workloads to see which stacks exist",
        )
    kinds = {name.split("/", 1)[0] for name in outcome.removed}
    warnings = []
    if "PersistentVolumeClaim" in kinds:
        warnings.append("volume claims are deleted: their data may be lost for good")
    if "Secret" in kinds:
        warnings.append("secrets are deleted: keep a copy if they cannot be regenerated")
    return Plan(
        summary=f"delete stack {args.stack} from namespace {adapter.namespace}: "
        f"{len(outcome.removed)} objects",
        changes=[PlanChange(action="delete", resource=name) for name in outcome.removed],
        warnings=warnings,
    )


KUBERNETES_TOOLS: list[Tool[Any, Any]] = [
    k8s_list_workloads,
    k8s_stack_status,
    k8s_pod_logs,
    k8s_events,
    k8s_describe,
    k8s_rollout_status,
    k8s_apply_manifests,
    k8s_scale_deployment,
    k8s_rollout_undo,
    k8s_delete_stack,
]
