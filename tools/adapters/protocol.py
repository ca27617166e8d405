"""What every orchestrator adapter offers, and the typed results they return.

Adapters wrap blocking SDKs (docker, kubernetes, python-vagrant); they run those calls in
worker threads so the event loop keeps serving. They raise ``TargetUnreachable`` when the
engine cannot be reached and ``OrchestratorError`` when it refuses an operation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from tools.base import PlanChange
from tools.connectivity import CheckResult
from tools.stack import Stack
from tools.targets import TargetKind

ServiceState = Literal["running", "starting", "degraded", "exited", "failed", "pending", "unknown"]


class ServiceStatus(BaseModel):
    name: str
    state: ServiceState
    desired: int = 1
    running: int = 0
    health: Literal["healthy", "unhealthy", "starting", "none"] = "none"
    image: str | None = None
    ports: list[str] = Field(default_factory=list)
    restarts: int = 0
    exit_code: int | None = None
    message: str | None = None


class StackStatus(BaseModel):
    stack: str
    services: list[ServiceStatus]

    @property
    def healthy(self) -> bool:
        return bool(self.services) and all(
            s.state == "running" and s.health in ("healthy", "none") for s in self.services
        )


class Workload(BaseModel):
    name: str
    kind: Literal["container", "service", "deployment", "statefulset", "daemonset", "pod", "vm"]
    stack: str | None = None
    state: str
    image: str | None = None


class Inventory(BaseModel):
    workloads: list[Workload]
    truncated: bool = False


class LogLines(BaseModel):
    resource: str
    lines: list[str]
    truncated: bool = False


class OrchestratorEvent(BaseModel):
    time: datetime | None = None
    type: str
    action: str
    resource: str
    message: str = ""


class DeployOutcome(BaseModel):
    stack: str
    created: list[str] = Field(default_factory=list)
    recreated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class ScaleOutcome(BaseModel):
    service: str
    replicas_before: int
    replicas_after: int


class StackAdapter(Protocol):
    """A target that runs compose stacks: a Docker host, a Swarm, a Vagrant VM."""

    kind: TargetKind

    async def check(self) -> CheckResult: ...

    async def inventory(self) -> Inventory: ...

    async def status(self, stack: str) -> StackStatus: ...

    async def logs(
        self, stack: str, service: str, *, tail: int, since_seconds: int | None
    ) -> LogLines: ...

    async def events(self, stack: str, *, since_seconds: int) -> list[OrchestratorEvent]: ...

    async def plan_deploy(self, stack: Stack) -> list[PlanChange]:
        """What deploy() would do, without doing it."""
        ...

    async def deploy(self, stack: Stack) -> DeployOutcome:
        """Converge the target to the stack; on failure, undo what this call created."""
        ...

    async def remove(self, stack: str) -> DeployOutcome: ...

    async def restart(self, stack: str, service: str) -> None: ...

    async def scale(self, stack: str, service: str, replicas: int) -> ScaleOutcome: ...
