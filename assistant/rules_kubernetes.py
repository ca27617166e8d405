"""No-model diagnosis of a Kubernetes stack: workloads, pods and events, explained.

The steps: list the namespace's workloads -> the stack's status (per workload why pods do
not run, per pod phase and restarts) -> the stack's events -> an answer that names the
reasons Kubernetes reports and what usually fixes each.
"""

from __future__ import annotations

from typing import Any

from assistant.rules_common import Done, failure_text, pick_stack, tokens, which_stack
from tools.targets import TargetSpec

# Kubernetes' own reason strings, and what an operator does about each.
ADVICE = {
    "CrashLoopBackOff": "the container starts and exits again and again: read the logs of the "
    "previous container (k8s_pod_logs with previous=true) and fix what they name; "
    "restarting will not help",
    "Error": "the container exited with an error: its logs name the cause",
    "OOMKilled": "the container went over its memory limit: raise resources.limits.memory or "
    "find what uses the memory",
    "ImagePullBackOff": "the image cannot be pulled: check the image name and tag, and "
    "imagePullSecrets for a private registry",
    "ErrImagePull": "the image cannot be pulled: check the image name and tag, and "
    "imagePullSecrets for a private registry",
    "InvalidImageName": "the image reference is malformed: fix the image field",
    "CreateContainerConfigError": "a ConfigMap or Secret (or one of its keys) the pod refers "
    "to does not exist: create it or fix the reference",
    "Unschedulable": "no node can take the pod: lower its resource requests, or check "
    "nodeSelector, affinity and taints",
    "ContainerCreating": "the container is still being created: volumes or the image may be "
    "slow; the events say which",
    "Pending": "the pod is not scheduled or started yet: the events say why",
    "ProgressDeadlineExceeded": "the rollout is stuck: new pods never became ready; roll back "
    "(k8s_rollout_undo) or fix the new version",
}


def diagnose_kubernetes(
    request: str, target: TargetSpec, done: list[Done]
) -> str | tuple[str, dict[str, Any]]:
    status = next((d for d in done if d.name == "k8s_stack_status"), None)
    if status is not None:
        if not status.ok:
            return failure_text(status)
        events = next((d for d in done if d.name == "k8s_events"), None)
        if events is None:
            return "k8s_events", {"target": target.name, "stack": status.arguments["stack"]}
        return explain(target, status, events)
    listing = next((d for d in done if d.name == "k8s_list_workloads"), None)
    if listing is None:
        return "k8s_list_workloads", {"target": target.name}
    if not listing.ok:
        return failure_text(listing)
    workloads = listing.data.get("workloads", [])
    stack = pick_stack(workloads, tokens(request))
    if stack is None:
        return which_stack(target, workloads)
    return "k8s_stack_status", {"target": target.name, "stack": stack}


def _reasons(workload: dict[str, Any], pods: list[dict[str, Any]]) -> list[str]:
    found = list(workload.get("pod_reasons") or [])
    for condition in workload.get("conditions") or []:
        reason = condition.get("reason")
        if reason in ADVICE and reason not in found:
            found.append(reason)
    for pod in pods:
        found.extend(r for r in pod.get("reasons") or [] if r not in found)
    return found


def explain(target: TargetSpec, status: Done, events: Done) -> str:
    data = status.data
    stack = data.get("stack", status.arguments.get("stack"))
    workloads = data.get("workloads", [])
    pods = data.get("pods", [])
    failing = [
        w for w in workloads if w.get("state") != "running" or w.get("health") == "unhealthy"
    ]
    if not failing:
        listed = ", ".join(f"{w['kind']} {w['name']}" for w in workloads) or "no workloads"
        return f"**{stack} on `{target.name}`** looks healthy: {listed} ready."
    lines = [f"**{stack} on `{target.name}`**: {len(failing)} of {len(workloads)} workloads fail."]
    for workload in failing:
        own = [p for p in pods if p.get("workload") == workload["name"]]
        reasons = _reasons(workload, own)
        ready = f"{workload.get('ready', 0)}/{workload.get('desired', 0)} ready"
        exit_code = workload.get("exit_code")
        exited = f", last exit code {exit_code}" if exit_code is not None else ""
        lines.append(
            f"- **critical** {workload['kind']} `{workload['name']}`: {workload['state']}, "
            f"{ready}, {workload.get('restarts', 0)} restarts{exited}"
            + (f"; reasons: {', '.join(reasons)}" if reasons else "")
        )
        for reason in reasons:
            if reason in ADVICE:
                lines.append(f"  - {reason}: {ADVICE[reason]}")
        lines.extend(
            f"  > pod {p['name']}: {p['phase']}, restarts {p['restarts']}"
            + (f", {', '.join(p['reasons'])}" if p.get("reasons") else "")
            for p in own[:3]
        )
    warnings = [
        e
        for e in (events.data.get("events", []) if events.ok else [])
        if e.get("type") == "Warning"
    ]
    distinct = list(
        dict.fromkeys(
            f"{e.get('action')} {e.get('resource')}: {str(e.get('message', ''))[:200]}"
            for e in warnings
        )
    )
    if distinct:
        lines.append("Recent warnings:")
        lines.extend(f"  > {line}" for line in distinct[-3:])
    return "\n".join(lines)
