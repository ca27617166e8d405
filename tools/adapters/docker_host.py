"""A single Docker engine as a target: compose stacks deployed through the Engine API.

Deploys converge: only services whose config hash changed are recreated, containers of
unchanged services are left alone, services dropped from the stack are removed. A failed
deploy is undone: what this call created is removed and what it replaced is restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from requests.exceptions import RequestException

from tools.adapters import docker_spec as spec
from tools.adapters.protocol import (
    DeployOutcome,
    Inventory,
    LogLines,
    OrchestratorEvent,
    ScaleOutcome,
    ServiceStatus,
    StackStatus,
    Workload,
)
from tools.base import PlanChange
from tools.bounded import bound_lines, bound_text
from tools.connectivity import CheckResult, check
from tools.stack import Service, Stack, config_hash, dependency_order
from tools.targets import TargetKind, TargetSpec
from windflow.errors import InvalidInput, OrchestratorError, TargetUnreachable

T = TypeVar("T")
READ_ONLY_COMMANDS = {
    "cat",
    "ls",
    "env",
    "printenv",
    "ps",
    "df",
    "id",
    "whoami",
    "uname",
    "hostname",
    "date",
    "uptime",
    "free",
    "mount",
    "head",
    "tail",
    "stat",
}


class DockerHostAdapter:
    kind = TargetKind.DOCKER

    def __init__(
        self, target: TargetSpec, *, default_host: str | None = None, health_timeout: float = 120.0
    ) -> None:
        self.target = target
        self.host = target.connection.get("host") or default_host
        self.health_timeout = health_timeout
        self._client: docker.DockerClient | None = None

    # --- plumbing -------------------------------------------------------------------

    def _docker(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = (
                    docker.DockerClient(base_url=self.host, timeout=60)
                    if self.host
                    else docker.from_env(timeout=60)
                )
                self._client.ping()
            except (DockerException, RequestException) as exc:
                self._client = None
                raise TargetUnreachable(
                    f"cannot reach the Docker engine of {self.target.name} at "
                    f"{self.host or 'the default socket'}: {exc}",
                    hint="check that dockerd runs and the target's host setting is right",
                ) from exc
        return self._client

    async def _run(self, work: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return work()
            except (TargetUnreachable, OrchestratorError, InvalidInput):
                raise
            except APIError as exc:
                raise OrchestratorError(
                    f"the Docker engine refused: {exc.explanation or exc}",
                    hint="see the message; fix the stack or the engine and retry",
                ) from exc
            except (DockerException, RequestException) as exc:
                raise TargetUnreachable(f"the Docker engine failed to answer: {exc}") from exc

        return await asyncio.to_thread(guarded)

    def _containers(self, stack: str, service: str | None = None) -> list[Container]:
        labels = [f"{spec.PROJECT}={stack}"]
        if service:
            labels.append(f"{spec.SERVICE}={service}")
        found = self._docker().containers.list(all=True, filters={"label": labels})
        return sorted(found, key=lambda c: (c.labels.get(spec.SERVICE), _number(c)))

    def _by_service(self, stack: str) -> dict[str, list[Container]]:
        groups: dict[str, list[Container]] = {}
        for container in self._containers(stack):
            groups.setdefault(container.labels.get(spec.SERVICE, "?"), []).append(container)
        return groups

    async def check(self) -> CheckResult:
        return await check(self.target, default_docker_host=self.host)

    # --- reads ------------------------------------------------------------------------

    async def inventory(self) -> Inventory:
        def work() -> Inventory:
            containers = self._docker().containers.list(all=True)
            return Inventory(
                workloads=[
                    Workload(
                        name=c.name,
                        kind="container",
                        stack=c.labels.get(spec.PROJECT),
                        state=c.status,
                        image=_image(c),
                    )
                    for c in containers
                ]
            )

        return await self._run(work)

    async def status(self, stack: str) -> StackStatus:
        def work() -> StackStatus:
            return StackStatus(
                stack=stack,
                services=[_status(n, cs) for n, cs in sorted(self._by_service(stack).items())],
            )

        return await self._run(work)

    async def logs(
        self, stack: str, service: str, *, tail: int, since_seconds: int | None
    ) -> LogLines:
        def work() -> LogLines:
            containers = self._containers(stack, service)
            if not containers:
                raise InvalidInput(f"stack {stack} has no service {service} on this host")
            lines: list[str] = []
            since = int(time.time()) - since_seconds if since_seconds else None
            for container in containers:
                raw = container.logs(tail=tail, since=since, timestamps=False)
                text = raw.decode(errors="replace")
                prefix = f"{container.name} | " if len(containers) > 1 else ""
                lines.extend(prefix + line for line in text.splitlines())
            kept, truncated = bound_lines(lines, tail)
            return LogLines(resource=f"{stack}/{service}", lines=kept, truncated=truncated)

        return await self._run(work)

    async def events(self, stack: str, *, since_seconds: int) -> list[OrchestratorEvent]:
        def work() -> list[OrchestratorEvent]:
            now = int(time.time())
            stream = self._docker().events(
                since=now - since_seconds,
                until=now + 1,
                filters={"label": f"{spec.PROJECT}={stack}"},
                decode=True,
            )
            return [_event(raw) for raw in stream]

        return await self._run(work)

    async def stats(self, stack: str) -> list[dict[str, Any]]:
        """One-shot CPU and memory use per running container of the stack."""

        def work() -> list[dict[str, Any]]:
            rows = []
            for container in self._containers(stack):
                if container.status != "running":
                    continue
                raw = container.stats(stream=False)
                rows.append({"container": container.name, **_usage(raw)})
            return rows

        return await self._run(work)

    async def exec_diagnostic(self, stack: str, service: str, command: list[str]) -> str:
        """Run a read-only command (cat, ls, env, ps, df, ...) in the service's container."""
        if not command or command[0] not in READ_ONLY_COMMANDS:
            raise InvalidInput(
                f"{(command or ['(empty)'])[0]!r} is not an allowed diagnostic command",
                hint=f"allowed: {', '.join(sorted(READ_ONLY_COMMANDS))}",
            )
        if any(ch in part for part in command for ch in (";", "|", "&", "`", "$(", ">")):
            raise InvalidInput("shell syntax is not allowed in diagnostic commands")

        def work() -> str:
            containers = [c for c in self._containers(stack, service) if c.status == "running"]
            if not containers:
                raise OrchestratorError(f"{stack}/{service} has no running container to inspect")
            result = containers[0].exec_run(command, demux=False)
            text, _ = bound_text((result.output or b"").decode(errors="replace"), 8000)
            return text

        return await self._run(work)

    # --- mutations -----------------------------------------------------------------------

    async def plan_deploy(self, stack: Stack) -> list[PlanChange]:
        return await self._run(lambda: self._plan(stack))

    def _plan(self, stack: Stack) -> list[PlanChange]:
        existing = self._by_service(stack.name)
        changes: list[PlanChange] = []
        for problem in spec.unsupported(stack):
            raise InvalidInput(
                f"cannot deploy to a Docker host: {problem}",
                hint="remove or change these settings, or use a Swarm or Kubernetes target",
            )
        networks = self._docker().networks
        for network in _networks_used(stack):
            name = spec.network_name(stack, network)
            if not networks.list(names=[name]):
                changes.append(PlanChange(action="create", resource=f"network {name}"))
        for layer in dependency_order(stack):
            for name in layer:
                service = stack.services[name]
                current = existing.get(name, [])
                wanted = spec.replicas(service)
                if not current:
                    changes.append(PlanChange(action="create", resource=name, detail=service.image))
                elif any(c.labels.get(spec.CONFIG_HASH) != config_hash(service) for c in current):
                    changes.append(
                        PlanChange(action="recreate", resource=name, detail="configuration changed")
                    )
                elif len(current) != wanted:
                    changes.append(
                        PlanChange(
                            action="scale", resource=name, detail=f"{len(current)} -> {wanted}"
                        )
                    )
                else:
                    changes.append(PlanChange(action="noop", resource=name))
        for name in sorted(set(existing) - set(stack.services)):
            changes.append(PlanChange(action="delete", resource=name, detail="not in the stack"))
        return changes

    async def deploy(self, stack: Stack) -> DeployOutcome:
        return await self._run(lambda: _Deployment(self, stack).run())

    async def remove(self, stack: str, *, remove_volumes: bool = False) -> DeployOutcome:
        def work() -> DeployOutcome:
            client = self._docker()
            removed = sorted({c.labels.get(spec.SERVICE, c.name) for c in self._containers(stack)})
            for container in self._containers(stack):
                container.remove(force=True)
            for network in client.networks.list(filters={"label": f"{spec.PROJECT}={stack}"}):
                network.remove()
            if remove_volumes:
                for volume in client.volumes.list(filters={"label": f"{spec.PROJECT}={stack}"}):
                    volume.remove(force=True)
            return DeployOutcome(stack=stack, removed=removed)

        return await self._run(work)

    async def restart(self, stack: str, service: str) -> None:
        def work() -> None:
            containers = self._containers(stack, service)
            if not containers:
                raise InvalidInput(f"stack {stack} has no service {service} on this host")
            for container in containers:
                grace = spec.decode_spec(container.labels[spec.SPEC]).stop_grace_period
                container.restart(timeout=int(grace) if grace is not None else 10)

        await self._run(work)

    async def scale(self, stack: str, service: str, replicas: int) -> ScaleOutcome:
        def work() -> ScaleOutcome:
            current = self._containers(stack, service)
            if not current:
                raise InvalidInput(f"stack {stack} has no service {service} on this host")
            definition = spec.decode_spec(current[0].labels[spec.SPEC])
            numbers = sorted(_number(c) for c in current)
            if replicas > len(current):
                deployment = _Deployment(self, Stack(name=stack, services={service: definition}))
                for number in range(max(numbers) + 1, max(numbers) + 1 + replicas - len(current)):
                    deployment.start_container(definition, number)
            else:
                for container in sorted(current, key=_number)[replicas:]:
                    container.remove(force=True)
            return ScaleOutcome(
                service=service, replicas_before=len(current), replicas_after=replicas
            )

        return await self._run(work)


class _Deployment:
    """One converge run, remembering what it did so that a failure can be undone."""

    def __init__(self, adapter: DockerHostAdapter, stack: Stack) -> None:
        self.adapter = adapter
        self.client = adapter._docker()
        self.stack = stack
        self.created_containers: list[Container] = []
        self.created_networks: list[Any] = []
        self.replaced: list[tuple[Container, str]] = []
        self.outcome = DeployOutcome(stack=stack.name)

    def run(self) -> DeployOutcome:
        plan = {c.resource: c for c in self.adapter._plan(self.stack)}
        self._check_images()
        try:
            self._networks()
            self._volumes()
            for layer in dependency_order(self.stack):
                for name in layer:
                    self._converge(self.stack.services[name], plan[name])
        except (OrchestratorError, APIError, DockerException) as exc:
            undone = self._undo()
            reason = exc.message if isinstance(exc, OrchestratorError) else str(exc)
            raise OrchestratorError(
                f"deploy of stack {self.stack.name} failed: {reason}; rolled back ({undone})",
                hint="nothing of this deploy is left running; fix the cause and deploy again",
            ) from exc
        for old, _name in self.replaced:
            old.remove(force=True)
        for name, change in plan.items():
            if change.action == "delete":
                for container in self.adapter._containers(self.stack.name, name):
                    container.remove(force=True)
                self.outcome.removed.append(name)
        return self.outcome

    def _check_images(self) -> None:
        for service in self.stack.services.values():
            image = service.image or ""
            try:
                self.client.images.get(image)
            except ImageNotFound:
                try:
                    self.client.images.pull(image)
                except (APIError, DockerException) as exc:
                    raise OrchestratorError(
                        f"image {image} of service {service.name} is not on the engine "
                        f"and could not be pulled: {exc}",
                        hint="check the image name and tag, and the engine's registry access",
                    ) from exc

    def _networks(self) -> None:
        for network in _networks_used(self.stack):
            name = spec.network_name(self.stack, network)
            if self.client.networks.list(names=[name]):
                continue
            declared = self.stack.networks.get(network)
            if declared is not None and declared.external:
                raise OrchestratorError(f"external network {name} does not exist")
            created = self.client.networks.create(
                name,
                driver=(declared.driver if declared else None) or "bridge",
                internal=bool(declared and declared.internal),
                labels={spec.PROJECT: self.stack.name, spec.NETWORK: network, spec.MANAGED: "true"},
            )
            self.created_networks.append(created)

    def _volumes(self) -> None:
        for volume, declared in self.stack.volumes.items():
            name = spec.volume_name(self.stack, volume)
            try:
                self.client.volumes.get(name)
            except NotFound:
                if declared.external:
                    raise OrchestratorError(f"external volume {name} does not exist") from None
                self.client.volumes.create(
                    name,
                    driver=declared.driver or "local",
                    labels={spec.PROJECT: self.stack.name, spec.VOLUME: volume},
                )

    def _converge(self, service: Service, change: PlanChange) -> None:
        self._wait_for_dependencies(service)
        current = self.adapter._containers(self.stack.name, service.name)
        wanted = spec.replicas(service)
        if change.action == "noop":
            self.outcome.unchanged.append(service.name)
            return
        if change.action == "recreate":
            grace = int(service.stop_grace_period) if service.stop_grace_period is not None else 10
            for container in current:
                container.stop(timeout=grace)
                aside = f"{container.name}-replaced-{uuid.uuid4().hex[:6]}"
                original = container.name
                container.rename(aside)
                self.replaced.append((container, original))
            current = []
            self.outcome.recreated.append(service.name)
        elif change.action == "create":
            self.outcome.created.append(service.name)
        numbers = {_number(c) for c in current}
        for number in range(1, wanted + 1):
            if number not in numbers:
                self.start_container(service, number)
        for container in current:
            if _number(container) > wanted:
                container.remove(force=True)

    def start_container(self, service: Service, number: int) -> Container:
        networks = spec.service_networks(service)
        kwargs = spec.create_kwargs(self.stack, service, number)
        names = [spec.network_name(self.stack, n) for n in networks]
        if names:
            first = next(iter(networks))
            kwargs["network"] = names[0]
            kwargs["networking_config"] = {
                names[0]: self.client.api.create_endpoint_config(
                    aliases=[service.name, *networks[first]]
                )
            }
        container = self.client.containers.create(**kwargs)
        self.created_containers.append(container)
        for network, name in list(zip(networks, names, strict=True))[1:]:
            self.client.networks.get(name).connect(
                container, aliases=[service.name, *networks[network]]
            )
        container.start()
        return container

    def _wait_for_dependencies(self, service: Service) -> None:
        for dependency, condition in service.depends_on.items():
            for container in self.adapter._containers(self.stack.name, dependency):
                self._wait(container, condition, self.stack.services.get(dependency))

    def _wait(self, container: Container, condition: str, dependency: Service | None) -> None:
        check = dependency.healthcheck if dependency else None
        budget = self.adapter.health_timeout
        if check is not None:
            per_try = (check.interval or 30) + (check.timeout or 30)
            budget = min(
                budget, (check.start_period or 0) + per_try * ((check.retries or 3) + 1) + 10
            )
        deadline = time.monotonic() + budget
        while True:
            container.reload()
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if condition == "service_started" and state.get("Running"):
                return
            if condition == "service_healthy":
                if health == "healthy":
                    return
                if health is None:
                    raise OrchestratorError(
                        f"{container.name} has no healthcheck but is awaited as service_healthy",
                        hint="add a healthcheck to it or use condition service_started",
                    )
                if health == "unhealthy":
                    raise OrchestratorError(
                        f"{container.name} became unhealthy: {_last_probe(state)}"
                    )
            stopped = not state.get("Running") and state.get("Status") in ("exited", "dead")
            succeeded = stopped and state.get("ExitCode") == 0
            if condition == "service_completed_successfully" and succeeded:
                return
            if stopped and not (condition == "service_completed_successfully" and succeeded):
                logs = container.logs(tail=5).decode(errors="replace").strip()
                raise OrchestratorError(
                    f"{container.name} exited with code {state.get('ExitCode')}: {logs[-500:]}"
                )
            if time.monotonic() > deadline:
                raise OrchestratorError(
                    f"{container.name} did not become {condition.removeprefix('service_')} "
                    f"within {budget:.0f} s; last probe: {_last_probe(state)}"
                )
            time.sleep(0.25)

    def _undo(self) -> str:
        removed, restored = 0, 0
        for container in reversed(self.created_containers):
            with contextlib.suppress(APIError, DockerException):
                container.remove(force=True)
                removed += 1
        for old, original in self.replaced:
            with contextlib.suppress(APIError, DockerException):
                old.rename(original)
                old.start()
                restored += 1
        for network in self.created_networks:
            with contextlib.suppress(APIError, DockerException):
                network.remove()
        return f"removed {removed} new containers, restored {restored} previous ones"


def _number(container: Container) -> int:
    return int(container.labels.get(spec.NUMBER, "1"))


def _image(container: Container) -> str | None:
    return str(container.attrs.get("Config", {}).get("Image")) or None


def _networks_used(stack: Stack) -> list[str]:
    used: list[str] = []
    for service in stack.services.values():
        for network in spec.service_networks(service):
            if network not in used:
                used.append(network)
    return used


def _last_probe(state: dict[str, Any]) -> str:
    log = (state.get("Health") or {}).get("Log") or []
    if not log:
        return "no probe has run yet"
    last = log[-1]
    return f"exit {last.get('ExitCode')}: {str(last.get('Output', '')).strip()[:300]}"


def _status(name: str, containers: list[Container]) -> ServiceStatus:
    states = [c.attrs["State"] for c in containers]
    running = sum(1 for s in states if s.get("Running") and not s.get("Restarting"))
    healths = {(s.get("Health") or {}).get("Status") for s in states} - {None}
    health = (
        "unhealthy"
        if "unhealthy" in healths
        else "starting"
        if "starting" in healths
        else "healthy"
        if healths
        else "none"
    )
    restarting = any(s.get("Restarting") for s in states)
    exited = [s for s in states if s.get("Status") in ("exited", "dead")]
    if running == len(containers) and not restarting:
        state = "running"
    elif restarting:
        state = "failed"
    elif running:
        state = "degraded"
    elif exited and all(s.get("ExitCode") == 0 for s in exited):
        state = "exited"
    elif exited:
        state = "failed"
    else:
        state = "pending"
    ports = sorted(
        f"{b.get('HostIp')}:{b.get('HostPort')}->{port}"
        for c in containers
        for port, bindings in (c.attrs.get("NetworkSettings", {}).get("Ports") or {}).items()
        for b in bindings or []
    )
    last = states[-1] if states else {}
    return ServiceStatus(
        name=name,
        state=state,
        desired=len(containers),
        running=running,
        health=health,
        image=_image(containers[0]) if containers else None,
        ports=ports,
        restarts=sum(int(c.attrs.get("RestartCount", 0)) for c in containers),
        exit_code=last.get("ExitCode") if not last.get("Running") else None,
        message=(last.get("Error") or None) if last else None,
    )


def _event(raw: dict[str, Any]) -> OrchestratorEvent:
    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
    details = {k: v for k, v in attributes.items() if k in ("exitCode", "signal", "image")}
    return OrchestratorEvent(
        time=datetime.fromtimestamp(raw.get("time", 0), tz=UTC),
        type=str(raw.get("Type", "")),
        action=str(raw.get("Action", "")),
        resource=str(attributes.get("name", raw.get("id", ""))),
        message=", ".join(f"{k}={v}" for k, v in sorted(details.items())),
    )


def _usage(raw: dict[str, Any]) -> dict[str, Any]:
    cpu, precpu = raw.get("cpu_stats", {}), raw.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - precpu.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - precpu.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or 1
    memory = raw.get("memory_stats", {})
    return {
        "cpu_percent": round(cpu_delta / system_delta * cpus * 100, 2) if system_delta > 0 else 0.0,
        "memory_bytes": memory.get("usage", 0),
        "memory_limit_bytes": memory.get("limit", 0),
    }
