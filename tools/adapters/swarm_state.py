"""Reading a Swarm service's state: tasks, rollout progress, errors, events.

A service is converged when as many tasks run as it wants and no update or rollback is
in flight. Swarm reports a task with a healthcheck as running only once it is healthy,
so "running" here already means "healthy" where a healthcheck exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tools.adapters.protocol import OrchestratorEvent, ServiceState, ServiceStatus

Health = Literal["healthy", "unhealthy", "starting", "none"]
FAILED = {"failed", "rejected"}
UPDATE_IN_FLIGHT = {"updating", "rollback_started"}
UPDATE_STUCK = {"paused", "rollback_paused"}
# For a deploy, any of these means the update it sent did not hold.
UPDATE_FAILED = UPDATE_STUCK | {"rollback_started", "rollback_completed"}
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")
EVENT_DETAILS = (
    "replicas.old",
    "replicas.new",
    "updatestate.old",
    "updatestate.new",
    "image.old",
    "image.new",
    "exitCode",
    "signal",
)


def parse_time(value: str | None) -> datetime | None:
    """Engine timestamps have nanoseconds, which ``fromisoformat`` of 3.11 rejects."""
    match = _TIME.match(value or "")
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    text = f"{whole}.{(fraction or '0')[:6].ljust(6, '0')}"
    zone = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(text + zone)


def _time(task: Mapping[str, Any], key: str = "CreatedAt") -> datetime:
    return parse_time(task.get(key)) or datetime.min.replace(tzinfo=UTC)


def _state(task: Mapping[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State", "unknown"))


def _exit_code(task: Mapping[str, Any]) -> int | None:
    code = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")
    return int(code) if code is not None else None


def task_error(task: Mapping[str, Any]) -> str | None:
    status = task.get("Status") or {}
    if status.get("Err"):
        return str(status["Err"])
    if _state(task) in FAILED:
        return f"task {_state(task)} (exit code {_exit_code(task)})"
    return None


def task_errors(tasks: list[dict[str, Any]], *, limit: int = 3) -> list[str]:
    """Distinct task errors, newest first: what to tell someone whose service is stuck."""
    found: list[str] = []
    for task in sorted(tasks, key=lambda t: _time(t, "UpdatedAt"), reverse=True):
        error = task_error(task)
        if error and error not in found:
            found.append(error)
    return found[:limit]


@dataclass(frozen=True)
class Progress:
    name: str
    converged: bool
    failure: str | None  # the rollout of the current spec failed
    summary: str


def same_spec(task_spec: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    """Whether a task was created from this TaskTemplate (tasks do not carry ``Runtime``)."""
    keys = (set(task_spec) | set(template)) - {"Runtime"}
    return all((task_spec.get(k) or None) == (template.get(k) or None) for k in keys)


def desired_tasks(attrs: Mapping[str, Any]) -> int:
    mode = (attrs.get("Spec") or {}).get("Mode") or {}
    if "Replicated" in mode:
        # From the spec: ServiceStatus lags behind an update for a moment.
        return int(mode["Replicated"].get("Replicas", 1))
    return int((attrs.get("ServiceStatus") or {}).get("DesiredTasks", 0))


def progress(
    name: str,
    attrs: Mapping[str, Any],
    tasks: list[dict[str, Any]],
    *,
    since: datetime | None = None,
) -> Progress:
    """How far the current spec has rolled out; ``failure`` counts tasks from ``since`` on."""
    template = (attrs.get("Spec") or {}).get("TaskTemplate") or {}
    desired = desired_tasks(attrs)
    update = attrs.get("UpdateStatus") or {}
    state = update.get("State")
    # The updater sets UpdateStatus asynchronously, so right after an update the old
    # tasks may still look converged: only tasks of the current TaskTemplate count.
    current = [t for t in tasks if same_spec(t.get("Spec") or {}, template)]
    live = [t for t in tasks if t.get("DesiredState") == "running"]
    up_to_date = [
        t for t in current if t.get("DesiredState") == "running" and _state(t) == "running"
    ]
    stale = [t for t in live if not same_spec(t.get("Spec") or {}, template)]
    floor = since or datetime.min.replace(tzinfo=UTC)
    failed = [t for t in current if _state(t) in FAILED and _time(t) >= floor]
    errors = task_errors(failed) or task_errors(live)
    summary = f"{name}: {len(up_to_date)}/{desired} tasks of the current spec running"
    if state:
        message = update.get("Message")
        summary += f", update {state}" + (f" ({message})" if message else "")
    if errors:
        summary += f"; task errors: {'; '.join(errors)}"
    failure = summary if failed or state in UPDATE_FAILED else None
    converged = (
        len(up_to_date) == desired
        and not stale
        and state not in UPDATE_IN_FLIGHT | UPDATE_STUCK
        and (desired > 0 or "Replicated" in (attrs.get("Spec") or {}).get("Mode", {}))
    )
    return Progress(name=name, converged=converged, failure=failure, summary=summary)


def _health(container: Mapping[str, Any], running: int, desired: int, errors: list[str]) -> Health:
    check = container.get("Healthcheck") or {}
    if not check.get("Test") or check.get("Test") == ["NONE"]:
        return "none"
    if desired and running >= desired:
        return "healthy"
    if errors and "unhealthy" in errors[0]:
        return "unhealthy"
    return "starting"


def service_status(
    name: str, attrs: Mapping[str, Any], tasks: list[dict[str, Any]]
) -> ServiceStatus:
    spec = attrs.get("Spec") or {}
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    counts = attrs.get("ServiceStatus") or {}
    running, desired = int(counts.get("RunningTasks", 0)), int(counts.get("DesiredTasks", 0))
    update = attrs.get("UpdateStatus") or {}
    live = [t for t in tasks if t.get("DesiredState") == "running"]
    failed = sorted((t for t in tasks if _state(t) in FAILED), key=_time, reverse=True)
    errors = task_errors(live) or task_errors(failed)
    state: ServiceState
    if update.get("State") in UPDATE_STUCK:
        state = "failed"
    elif desired == 0:
        state = "exited"
    elif running >= desired:
        state = "running"
    elif running > 0:
        state = "degraded"
    elif failed and not any(_state(t) in ("starting", "running") for t in live):
        state = "failed"
    elif any(_state(t) == "pending" for t in live):
        state = "pending"
    else:
        state = "starting"
    message_parts: list[str] = []
    if update.get("State") not in (None, "completed"):
        message_parts.append(f"update {update['State']}: {update.get('Message', '')}")
    if errors and state != "running":
        message_parts.extend(errors)
    ports = [
        f"{p.get('PublishedPort')}->{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}"
        + (" (host)" if p.get("PublishMode") == "host" else "")
        for p in (attrs.get("Endpoint") or {}).get("Ports") or []
    ]
    return ServiceStatus(
        name=name,
        state=state,
        desired=desired,
        running=running,
        health=_health(container, running, desired, errors),
        image=container.get("Image"),
        ports=ports,
        restarts=len(failed),
        exit_code=_exit_code(failed[0]) if failed else None,
        message="; ".join(message_parts) or None,
    )


def event_from(raw: Mapping[str, Any]) -> OrchestratorEvent:
    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
    details = {k: attributes[k] for k in EVENT_DETAILS if attributes.get(k)}
    nanos = raw.get("timeNano")
    stamp = nanos / 1e9 if nanos else float(raw.get("time", 0))
    return OrchestratorEvent(
        time=datetime.fromtimestamp(stamp, tz=UTC),
        type=str(raw.get("Type", "")),
        action=str(raw.get("Action", "")),
        resource=str(attributes.get("name", (raw.get("Actor") or {}).get("ID", ""))),
        message=", ".join(f"{k}={v}" for k, v in details.items()),
    )
