"""Reading Kubernetes objects: which kinds exist, and what a workload's or pod's state means.

Pure functions on the JSON objects the API server returns; no requests are made here.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import yaml
from pydantic import BaseModel, Field

from tools.adapters.kubernetes_manifests import REVISION, dump
from tools.adapters.protocol import OrchestratorEvent, ServiceStatus
from tools.bounded import bound_text
from windflow.errors import NotFound, OrchestratorError

HASH_LABEL = "pod-template-hash"
FAILING = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "OOMKilled",
    "Error",
}
# kubectl rollout undo keeps these annotations of the Deployment, not the ReplicaSet's.
UNDO_SKIPPED_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}
# What a stack deletion removes, in this order (workloads first), with API versions to try.
KINDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("apps/v1",),
    "StatefulSet": ("apps/v1",),
    "DaemonSet": ("apps/v1",),
    "ReplicaSet": ("apps/v1",),
    "CronJob": ("batch/v1", "batch/v1beta1"),
    "Job": ("batch/v1",),
    "Pod": ("v1",),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "autoscaling/v1"),
    "PodDisruptionBudget": ("policy/v1", "policy/v1beta1"),
    "Ingress": ("networking.k8s.io/v1", "networking.k8s.io/v1beta1"),
    "NetworkPolicy": ("networking.k8s.io/v1",),
    "Service": ("v1",),
    "ConfigMap": ("v1",),
    "Secret": ("v1",),
    "PersistentVolumeClaim": ("v1",),
    "ServiceAccount": ("v1",),
    "RoleBinding": ("rbac.authorization.k8s.io/v1",),
    "Role": ("rbac.authorization.k8s.io/v1",),
}
ALIASES = {
    **{kind.lower(): kind for kind in KINDS},
    **{f"{kind.lower()}s": kind for kind in KINDS},
    **{
        "deploy": "Deployment",
        "sts": "StatefulSet",
        "ds": "DaemonSet",
        "rs": "ReplicaSet",
        "cj": "CronJob",
        "po": "Pod",
        "hpa": "HorizontalPodAutoscaler",
        "pdb": "PodDisruptionBudget",
        "ing": "Ingress",
        "netpol": "NetworkPolicy",
        "svc": "Service",
        "cm": "ConfigMap",
        "pvc": "PersistentVolumeClaim",
        "sa": "ServiceAccount",
    },
}


@dataclass(frozen=True)
class ApiKind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None, name: str | None = None, sub: str = "") -> str:
        path = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name:
            path += f"/{quote(name, safe='')}"
        return f"{path}/{sub}" if sub else path


DEPLOYMENT = ApiKind("apps/v1", "Deployment", "deployments", True)
STATEFULSET = ApiKind("apps/v1", "StatefulSet", "statefulsets", True)
DAEMONSET = ApiKind("apps/v1", "DaemonSet", "daemonsets", True)
REPLICASET = ApiKind("apps/v1", "ReplicaSet", "replicasets", True)
POD = ApiKind("v1", "Pod", "pods", True)
EVENT = ApiKind("v1", "Event", "events", True)
NAMESPACE = ApiKind("v1", "Namespace", "namespaces", False)
WORKLOADS = (DEPLOYMENT, STATEFULSET, DAEMONSET)


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class WorkloadStatus(ServiceStatus):
    kind: str = "Deployment"
    ready: int = 0
    updated: int = 0
    available: int = 0
    conditions: list[Condition] = Field(default_factory=list)
    pod_reasons: list[str] = Field(
        default_factory=list, description="Why pods do not run: CrashLoopBackOff, Unschedulable..."
    )


class PodInfo(BaseModel):
    name: str
    workload: str | None
    phase: str
    ready: bool
    node: str | None
    restarts: int
    reasons: list[str]
    message: str | None = None


class RolloutStatus(BaseModel):
    deployment: str
    revision: int | None
    desired: int
    updated: int
    ready: int
    available: int
    observed_generation_current: bool
    complete: bool
    stuck: bool = Field(description="The rollout exceeded its progress deadline")
    progressing_reason: str | None = None
    message: str = ""


class RolloutUndoOutcome(BaseModel):
    deployment: str
    from_revision: int | None
    to_revision: int
    skipped: bool = Field(description="The current template already matches that revision")
    images_before: list[str]
    images_after: list[str]
    diff: str = ""


class DescribeResult(BaseModel):
    kind: str
    name: str
    namespace: str
    stack: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    created: str | None
    summary: dict[str, Any]
    conditions: list[Condition]
    events: list[OrchestratorEvent]


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def controller(obj: dict[str, Any]) -> str | None:
    """The uid of the object's controlling owner, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref["uid"])
    return None


def revision(obj: dict[str, Any]) -> int | None:
    value = (obj.get("metadata", {}).get("annotations") or {}).get(REVISION)
    return int(value) if value and value.isdigit() else None


def images(template: dict[str, Any]) -> list[str]:
    return [c.get("image", "") for c in (template.get("spec") or {}).get("containers") or []]


def condition(raw: dict[str, Any]) -> Condition:
    return Condition(
        type=raw.get("type", ""),
        status=raw.get("status", ""),
        reason=raw.get("reason"),
        message=raw.get("message"),
    )


def event(raw: dict[str, Any]) -> OrchestratorEvent:
    when = (
        raw.get("lastTimestamp")
        or raw.get("eventTime")
        or raw.get("firstTimestamp")
        or raw["metadata"].get("creationTimestamp")
    )
    obj, count = raw.get("involvedObject", {}), raw.get("count") or 1
    return OrchestratorEvent(
        time=datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None,
        type=raw.get("type") or "Normal",
        action=raw.get("reason") or "",
        resource=f"{obj.get('kind')}/{obj.get('name')}",
        message=(raw.get("message") or "") + (f" (x{count})" if count > 1 else ""),
    )


def pod_problems(pod: dict[str, Any]) -> list[tuple[str, str]]:
    """(reason, message) of what keeps a pod from running: waits, crashes, scheduling."""
    status = pod.get("status") or {}
    problems = []
    containers = (status.get("initContainerStatuses") or []) + (
        status.get("containerStatuses") or []
    )
    for container in containers:
        state, last = container.get("state") or {}, container.get("lastState") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        if waiting.get("reason"):
            problems.append((waiting["reason"], waiting.get("message") or ""))
        if terminated.get("reason") and terminated.get("reason") != "Completed":
            problems.append((terminated["reason"], terminated.get("message") or ""))
        if (last.get("terminated") or {}).get("reason") == "OOMKilled":
            problems.append(("OOMKilled", f"container {container['name']} ran out of memory"))
    for cond in status.get("conditions") or []:
        if cond["type"] == "PodScheduled" and cond.get("status") == "False":
            problems.append((cond.get("reason") or "Unscheduled", cond.get("message") or ""))
    return problems


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c.get("status") == "True" for c in conditions)


def _restarts(pod: dict[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def _explain(problems: list[tuple[str, str]]) -> str:
    return "; ".join(sorted({f"{r}: {m}" if m else r for r, m in problems}))


def pod_info(pod: dict[str, Any], workload: str | None) -> PodInfo:
    problems = pod_problems(pod)
    return PodInfo(
        name=pod["metadata"]["name"],
        workload=workload,
        phase=(pod.get("status") or {}).get("phase", "Unknown"),
        ready=_ready(pod),
        node=pod["spec"].get("nodeName"),
        restarts=_restarts(pod),
        reasons=sorted({reason for reason, _ in problems}),
        message=_explain(problems)[:500] or None,
    )


def require_logs(pod: dict[str, Any], container: str, previous: bool) -> None:
    """The API server answers an empty log for a pod without a node: say why instead."""
    name, status = pod["metadata"]["name"], pod.get("status") or {}
    node = pod["spec"].get("nodeName")
    if not node:
        raise OrchestratorError(
            f"pod {name} has no node, so no running container and no logs "
            f"(phase {status.get('phase', 'Unknown')}; "
            f"{_explain(pod_problems(pod)) or 'not scheduled yet'})",
            hint="check the pod's events: the cluster may lack nodes or resources for it",
        )
    statuses: list[dict[str, Any]] = status.get("containerStatuses") or []
    found = next((s for s in statuses if s["name"] == container), {})
    state = found.get("state") or {}
    if not state.keys() & {"running", "terminated"} and not (
        previous and (found.get("lastState") or {}).get("terminated")
    ):
        waiting = (state.get("waiting") or {}).get("reason", "not started")
        raise OrchestratorError(
            f"container {container} of pod {name} on node {node} has not run yet ({waiting})",
            hint="for a crash loop, ask for the previous container's logs",
        )


def _replicas(workload: dict[str, Any]) -> tuple[int, int, int, int]:
    """(desired, ready, updated, available) as the workload's controller counts them."""
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    if workload["kind"] == "DaemonSet":
        return (
            status.get("desiredNumberScheduled", 0),
            status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0),
            status.get("numberAvailable", 0),
        )
    ready = status.get("readyReplicas", 0)
    return (
        spec.get("replicas", 1),
        ready,
        status.get("updatedReplicas", ready if workload["kind"] == "ReplicaSet" else 0),
        status.get("availableReplicas", ready),
    )


def workload_status(workload: dict[str, Any], pods: list[dict[str, Any]]) -> WorkloadStatus:
    status, template = workload.get("status") or {}, workload["spec"].get("template") or {}
    desired, ready, updated, available = _replicas(workload)
    conditions = [condition(c) for c in status.get("conditions") or []]
    stuck = [c for c in conditions if c.reason == "ProgressDeadlineExceeded"]
    current = status.get("observedGeneration", 0) >= workload["metadata"].get("generation", 0)
    problems = [p for pod in pods for p in pod_problems(pod)]
    problems += [(c.reason or "", c.message or "") for c in stuck]
    reasons = sorted({reason for reason, _ in problems})
    state: Literal["running", "starting", "degraded", "exited", "failed", "pending"]
    if desired == 0:
        state = "exited"
    elif FAILING & set(reasons) or stuck:
        state = "failed" if ready == 0 else "degraded"
    elif ready >= desired and updated >= desired and current:
        state = "running"
    elif ready == 0 and not any(p["spec"].get("nodeName") for p in pods):
        state = "pending"
    elif updated < desired or not current or ready == 0:
        state = "starting"
    else:
        state = "degraded"
    health: dict[str, Literal["healthy", "unhealthy", "none"]] = {
        "running": "healthy",
        "failed": "unhealthy",
        "degraded": "unhealthy",
        "exited": "none",
    }
    exit_codes = [
        ((s.get(key) or {}).get("terminated") or {}).get("exitCode")
        for pod in pods
        for s in (pod.get("status") or {}).get("containerStatuses") or []
        for key in ("state", "lastState")
    ]
    return WorkloadStatus(
        name=workload["metadata"]["name"],
        kind=workload["kind"],
        state=state,
        desired=desired,
        running=ready,
        ready=ready,
        updated=updated,
        available=available,
        health=health.get(state, "starting"),
        image=", ".join(images(template)) or None,
        ports=[
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
            for c in (template.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or []
        ],
        restarts=sum(_restarts(p) for p in pods),
        exit_code=next((code for code in exit_codes if code is not None), None),
        message=_explain(problems)[:800] or ("scaled to 0 replicas" if desired == 0 else None),
        conditions=conditions,
        pod_reasons=reasons,
    )


def rollout_status(deployment: dict[str, Any]) -> RolloutStatus:
    status = deployment.get("status") or {}
    desired = deployment["spec"].get("replicas", 1)
    progressing: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c["type"] == "Progressing"), {}
    )
    current = status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    # Old pods still running count in status.replicas: the rollout is not over until they go.
    complete = current and updated == available == status.get("replicas", 0) == desired
    return RolloutStatus(
        deployment=deployment["metadata"]["name"],
        revision=revision(deployment),
        desired=desired,
        updated=updated,
        ready=status.get("readyReplicas", 0),
        available=available,
        observed_generation_current=current,
        complete=complete,
        stuck=progressing.get("reason") == "ProgressDeadlineExceeded" and not complete,
        progressing_reason=progressing.get("reason"),
        message=progressing.get("message", ""),
    )


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(template))
    (copy.get("metadata", {}).get("labels") or {}).pop(HASH_LABEL, None)
    return copy


def rollback(
    deployment: dict[str, Any], replica_sets: list[dict[str, Any]], to_revision: int | None
) -> tuple[RolloutUndoOutcome, list[dict[str, Any]]]:
    """kubectl's rollout undo: what it would change, and the JSON patch that does it."""
    name = deployment["metadata"]["name"]
    if deployment["spec"].get("paused"):
        raise OrchestratorError(
            f"deployment {name} is paused and cannot be rolled back", hint="resume it first"
        )
    uid = deployment["metadata"]["uid"]
    owned = {revision(rs): rs for rs in replica_sets if controller(rs) == uid}
    revisions = sorted((r for r in owned if r is not None), reverse=True)
    if to_revision:
        if to_revision not in owned:
            raise NotFound(
                f"deployment {name} has no revision {to_revision}",
                hint=f"known revisions: {revisions or 'none'}",
            )
        chosen = owned[to_revision]
    elif len(revisions) < 2:
        raise OrchestratorError(
            f"deployment {name} has no earlier revision to roll back to",
            hint=f"known revisions: {revisions or 'none'}",
        )
    else:
        chosen = owned[revisions[1]]  # kubectl: the second-newest revision
    target = _without_hash(chosen["spec"]["template"])
    live = deployment["spec"]["template"]
    before, after = revision(deployment), revision(chosen) or 0
    outcome = RolloutUndoOutcome(
        deployment=name,
        from_revision=before,
        to_revision=after,
        skipped=_without_hash(live) == target,
        images_before=images(live),
        images_after=images(target),
        diff="".join(
            difflib.unified_diff(
                dump(live),
                dump(target),
                f"{name} pod template (revision {before})",
                f"{name} pod template (revision {after})",
            )
        ),
    )
    annotations = {
        k: v
        for k, v in (deployment["metadata"].get("annotations") or {}).items()
        if k in UNDO_SKIPPED_ANNOTATIONS
    }
    annotations |= {
        k: v
        for k, v in (chosen["metadata"].get("annotations") or {}).items()
        if k not in UNDO_SKIPPED_ANNOTATIONS
    }
    patch = [
        {"op": "replace", "path": "/spec/template", "value": target},
        {"op": "add", "path": "/metadata/annotations", "value": annotations},
    ]
    return outcome, patch


def summary(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The fields of an object that matter when diagnosing it; never secret values."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        state = workload_status(obj, [])
        template = spec.get("template") or {}
        return {
            "replicas": {
                "desired": state.desired,
                "ready": state.ready,
                "updated": state.updated,
                "available": state.available,
            },
            "state": state.state,
            "revision": revision(obj),
            "selector": (spec.get("selector") or {}).get("matchLabels"),
            "strategy": (spec.get("strategy") or spec.get("updateStrategy") or {}).get("type"),
            "containers": [
                _container(c) for c in (template.get("spec") or {}).get("containers") or []
            ],
        }
    if kind == "Pod":
        return {
            "phase": status.get("phase"),
            "node": spec.get("nodeName"),
            "pod_ip": status.get("podIP"),
            "problems": _explain(pod_problems(obj)) or None,
            "containers": [_container(c) for c in spec.get("containers") or []],
            "container_statuses": [
                {
                    "name": s.get("name"),
                    "ready": s.get("ready"),
                    "restarts": s.get("restartCount"),
                    "state": s.get("state"),
                    "last_state": s.get("lastState"),
                }
                for s in status.get("containerStatuses") or []
            ],
        }
    if kind == "Service":
        keys = ("type", "clusterIP", "ports", "selector", "externalName")
        return {key: spec[key] for key in keys if key in spec}
    if kind in ("ConfigMap", "Secret"):
        # Keys and sizes only: values may be credentials, and large.
        data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
        return {"type": obj.get("type"), "keys": {k: len(str(v)) for k, v in sorted(data.items())}}
    text, truncated = bound_text(yaml.safe_dump(spec, sort_keys=True), 4000)
    return {"spec": text, "spec_truncated": truncated, "status_fields": sorted(status)}


def _container(container: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": container.get("name"),
        "image": container.get("image"),
        "ports": [
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
            for p in container.get("ports") or []
        ],
        # Names only: environment values are often credentials.
        "env": sorted(e["name"] for e in container.get("env") or []),
        "resources": container.get("resources") or {},
        "probes": [
            p for p in ("livenessProbe", "readinessProbe", "startupProbe") if container.get(p)
        ],
    }
