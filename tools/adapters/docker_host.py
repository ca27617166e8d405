"""A single Docker engine as a target: compose stacks deployed through the Engine API.

Deploys converge like ``docker compose up`` (see :mod:`tools.adapters.docker_deploy`):
only services whose config hash changed are recreated, unchanged containers keep their
id, services dropped from the stack are removed, and a failed deploy is undone. Reads
(status, logs, events, stats) are bounded; ``exec_diagnostic`` runs only read-only
commands from an allowlist.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import PurePosixPath
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import docker
from docker.models.containers import Container
from pydantic import BaseModel, Field

from tools.adapters import docker_labels as labels
from tools.adapters import docker_spec as spec
from tools.adapters.docker_client import EngineConnection
from tools.adapters.docker_deploy import (
    Deployment,
    DockerDeployOutcome,
    Group,
    find_groups,
    grace,
    last_probe,
    plan_stack,
    stop_all,
)
from tools.adapters.protocol import (
    DeployOutcome,
    Inventory,
    LogLines,
    OrchestratorEvent,
    ScaleOutcome,
    ServiceState,
    ServiceStatus,
    StackStatus,
    Workload,
)
from tools.base import PlanChange
from tools.bounded import DEFAULT_MAX_CHARS, bound_items, bound_lines, bound_text
from tools.connectivity import CheckResult, check
from tools.stack import Stack
from tools.targets import TargetKind, TargetSpec
from windflow.errors import (
    InvalidInput,
    NotFound,
    OrchestratorError,
)

T = TypeVar("T")
MAX_INVENTORY = 500
MAX_EVENTS = 500
MAX_LOG_LINES = 2000
MAX_LINE_CHARS = 2000
MAX_EXEC_BYTES = 64_000

# Diagnostic commands by how their arguments are checked. With arguments, env runs any
# program, date and hostname change the container, mount mounts: those take none.
NO_ARGUMENTS = {"env", "date", "hostname", "mount", "whoami", "uptime"}
FLAGS_ONLY = {"free", "uname", "netstat"}
ANY_ARGUMENTS = {"ls", "stat", "df", "id", "printenv", "ps"}
FILE_READERS = {"cat", "head", "tail"}
ALLOWED_COMMANDS = sorted(NO_ARGUMENTS | FLAGS_ONLY | ANY_ARGUMENTS | FILE_READERS | {"wget"})
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SHELL_SYNTAX = (";", "|", "&", "`", "$(", ">", "<")


class ContainerStats(BaseModel):
    container: str
    service: str | None = None
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float


class DiagnosticOutput(BaseModel):
    container: str
    command: list[str]
    exit_code: int | None = Field(description="None if the command was still running")
    output: str
    truncated: bool = False


def _refuse(message: str, hint: str | None = None) -> InvalidInput:
    return InvalidInput(
        message,
        hint=hint or f"allowed read-only commands: {', '.join(ALLOWED_COMMANDS)}",
    )


def _wget(arguments: list[str]) -> list[str]:
    """Only ``wget -q -O - [-T N] http://127.0.0.1[:PORT]/PATH``: no file is written."""
    usage = "use: wget -q -O - http://127.0.0.1:PORT/PATH (the container's own loopback)"
    url: str | None = None
    kept: list[str] = []
    # No default -T: the static busybox wget of the test image crashes with it; the
    # client's read timeout bounds the wait instead.
    timeout: list[str] = []
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        following = arguments[position + 1] if position + 1 < len(arguments) else None
        if argument in ("-q", "-S", "--spider"):
            kept.append(argument)
        elif argument == "-O" and following == "-":
            kept += ["-O", "-"]
            position += 1
        elif argument == "-T" and following is not None and following.isdigit():
            timeout = ["-T", following]
            position += 1
        elif not argument.startswith("-") and url is None:
            url = argument
        else:
            raise _refuse(f"wget option {argument!r} is not allowed here", usage)
        position += 1
    if url is None or not ("-O" in kept or "--spider" in kept):
        raise _refuse("wget needs -O - (output to the terminal, not a file) and a URL", usage)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
        raise _refuse(f"wget may only fetch from the container's loopback, not {url!r}", usage)
    return ["wget", *kept, *timeout, url]


def diagnostic_command(command: list[str]) -> list[str]:
    """The command to run if it only reads and ends by itself; InvalidInput otherwise."""
    if not command or not command[0]:
        raise _refuse("the diagnostic command is empty")
    if len(command) > 32 or any(len(part) > 512 or "\0" in part for part in command):
        raise _refuse("the diagnostic command is too long")
    if any(token in part for part in command for token in SHELL_SYNTAX):
        raise _refuse(
            "shell syntax (pipes, redirections, ;, &, $(...)) is not allowed: commands run "
            "without a shell",
            hint="run one command at a time, e.g. ['cat', '/etc/hosts']",
        )
    program, arguments = command[0], command[1:]
    if program not in ALLOWED_COMMANDS:
        raise _refuse(f"{program!r} is not an allowed diagnostic command")
    if program in NO_ARGUMENTS and arguments:
        raise _refuse(f"{program} takes no arguments here: with them it could change things")
    if program in FLAGS_ONLY and any(not a.startswith("-") for a in arguments):
        raise _refuse(f"{program} takes only flags here")
    if program in FILE_READERS:
        for argument in arguments:
            parts = set(PurePosixPath(argument).parts)
            if "dev" in parts or "kmsg" in parts:  # /dev/zero, /proc/1/root/dev/urandom, ...
                raise _refuse(f"reading {argument} could never end")
            follows = argument.startswith("--f") or argument.startswith("--retry")
            if program == "tail" and (
                follows
                or (argument[:1] == "-" and argument[1:2] != "-" and set(argument) & {"f", "F"})
            ):
                raise _refuse("tail -f never ends; use tail -n N instead")
    if program == "wget":
        return _wget(arguments)
    return list(command)


class DockerHostAdapter:
    """Compose stacks on one Docker engine (``spec.connection["host"]`` or the default)."""

    kind = TargetKind.DOCKER

    def __init__(
        self, spec: TargetSpec, *, default_host: str | None = None, health_timeout: float = 300.0
    ) -> None:
        self.target = spec
        self.host: str | None = spec.connection.get("host") or default_host
        self.health_timeout = health_timeout
        self._engine = EngineConnection(spec, self.host, refused_by="the Docker engine")

    # --- plumbing ---------------------------------------------------------------------

    def _docker(self) -> docker.DockerClient:
        return self._engine.client()

    def close(self) -> None:
        self._engine.close()

    async def _run(self, work: Callable[[], T]) -> T:
        return await self._engine.run(work)

    def _group(self, stack: str, service: str) -> Group:
        groups = find_groups(self._docker(), stack)
        group = groups.get(service)
        if group is None or not group.current:
            raise NotFound(
                f"stack {stack} has no service {service} on target {self.target.name}",
                hint=f"services found: {', '.join(sorted(groups)) or 'none (is it deployed?)'}",
            )
        return group

    async def check(self) -> CheckResult:
        return await check(self.target, default_docker_host=self.host)

    # --- reads ------------------------------------------------------------------------

    async def inventory(self) -> Inventory:
        """Every container of the engine, WindFlow's or not, grouped by compose project."""

        def work() -> Inventory:
            workloads = [
                Workload(
                    name=(row.get("Names") or ["?"])[0].lstrip("/"),
                    kind="container",
                    stack=(row.get("Labels") or {}).get(labels.PROJECT),
                    state=str(row.get("State", "unknown")),
                    image=row.get("Image"),
                )
                for row in self._docker().api.containers(all=True)
            ]
            workloads.sort(key=lambda w: (w.stack is None, w.stack or "", w.name))
            kept, truncated = bound_items(workloads, MAX_INVENTORY)
            return Inventory(workloads=kept, truncated=truncated)

        return await self._run(work)

    async def status(self, stack: str) -> StackStatus:
        def work() -> StackStatus:
            groups = find_groups(self._docker(), stack)
            return StackStatus(
                stack=stack,
                services=[_status(n, g) for n, g in sorted(groups.items()) if g.current],
            )

        return await self._run(work)

    async def logs(
        self, stack: str, service: str, *, tail: int, since_seconds: int | None
    ) -> LogLines:
        tail = max(1, min(tail, MAX_LOG_LINES))

        def work() -> LogLines:
            containers = self._group(stack, service).replicas
            since = int(time.time()) - since_seconds if since_seconds else None
            lines: list[str] = []
            for container in containers:
                raw = container.logs(tail=tail, since=since, stdout=True, stderr=True)
                prefix = f"{container.name} | " if len(containers) > 1 else ""
                text = raw.decode(errors="replace")
                lines += [prefix + line[:MAX_LINE_CHARS] for line in text.splitlines()]
            kept, cut_lines = bound_lines(lines, tail)
            text, cut_chars = bound_text("\n".join(kept), DEFAULT_MAX_CHARS)
            return LogLines(
                resource=f"{stack}/{service}",
                lines=text.splitlines(),
                truncated=cut_lines or cut_chars,
            )

        return await self._run(work)

    async def events(self, stack: str, *, since_seconds: int) -> list[OrchestratorEvent]:
        def work() -> list[OrchestratorEvent]:
            now = time.time()
            # A past `until` makes the engine answer at once instead of streaming forever;
            # it reads the fraction as nanoseconds, hence the explicit format.
            until = f"{int(now)}.{int((now % 1) * 1e9):09d}"
            stream = self._docker().api.events(
                since=int(now) - since_seconds,
                until=until,
                filters={"label": f"{labels.PROJECT}={stack}"},
                decode=True,
            )
            return [_event(raw) for raw in stream][-MAX_EVENTS:]

        return await self._run(work)

    async def stats(self, stack: str) -> list[ContainerStats]:
        """One-shot CPU and memory use of each running container of the stack."""

        def running() -> list[Container]:
            groups = find_groups(self._docker(), stack)
            return [c for g in groups.values() for c in g.replicas if c.status == "running"]

        containers = await self._run(running)
        # Each sample takes the engine about a second (it measures a CPU delta): in parallel.
        return list(await asyncio.gather(*(self._run(partial(_stats_of, c)) for c in containers)))

    async def exec_diagnostic(
        self, stack: str, service: str, command: list[str]
    ) -> DiagnosticOutput:
        """Run one read-only command (cat, ls, env, ps, df, ...) in the service's container."""
        argv = diagnostic_command(command)

        def work() -> DiagnosticOutput:
            running = [c for c in self._group(stack, service).replicas if c.status == "running"]
            if not running:
                raise OrchestratorError(
                    f"{stack}/{service} has no running container to run {argv[0]} in",
                    hint="look at the service's status and logs instead",
                )
            container, api = running[0], self._docker().api
            exec_id = api.exec_create(container.id, argv, stdout=True, stderr=True)["Id"]
            stream = api.exec_start(exec_id, stream=True)
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in stream:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_EXEC_BYTES:
                        break
            finally:
                stream.close()
            info = api.exec_inspect(exec_id)
            output, truncated = bound_text(
                b"".join(chunks)[:MAX_EXEC_BYTES].decode(errors="replace"), DEFAULT_MAX_CHARS
            )
            return DiagnosticOutput(
                container=container.name,
                command=argv,
                exit_code=None if info.get("Running") else info.get("ExitCode"),
                output=output,
                truncated=truncated or size > MAX_EXEC_BYTES,
            )

        return await self._run(work)

    # --- mutations ----------------------------------------------------------------------

    def _refuse_unsupported(self, stack: Stack) -> None:
        problems = spec.unsupported(stack)
        if problems:
            raise InvalidInput(
                f"stack {stack.name} cannot be deployed to Docker host {self.target.name} as "
                f"written: {'; '.join(problems)}",
                hint="remove or change these settings, or use a Swarm or Kubernetes target",
                details={"problems": problems},
            )

    async def plan_deploy(self, stack: Stack) -> list[PlanChange]:
        """What deploy() would do (create/recreate/scale/restart/noop/delete), read-only."""
        self._refuse_unsupported(stack)
        return await self._run(lambda: plan_stack(self._docker(), stack).changes(stack))

    async def deploy(self, stack: Stack) -> DockerDeployOutcome:
        """Converge the engine to the stack; on failure undo what this call changed."""
        self._refuse_unsupported(stack)

        def work() -> DockerDeployOutcome:
            run = Deployment(self._docker(), stack, health_timeout=self.health_timeout)
            return run.run()

        return await self._run(work)

    async def remove(self, stack: str, *, remove_volumes: bool = False) -> DeployOutcome:
        """Remove the stack's containers and networks; its volumes only if asked."""

        def work() -> DeployOutcome:
            client = self._docker()
            groups = find_groups(client, stack)
            containers = [c for g in groups.values() for c in g.all]
            stop_all([c for c in containers if c.status in ("running", "restarting")])
            for container in containers:
                container.remove(force=True)
            for network in client.networks.list(filters=labels.project_filter(stack)):
                network.remove()
            if remove_volumes:
                for volume in client.volumes.list(filters=labels.project_filter(stack)):
                    volume.remove(force=True)
            return DeployOutcome(
                stack=stack, removed=sorted(n for n, g in groups.items() if g.current)
            )

        return await self._run(work)

    async def restart(self, stack: str, service: str) -> None:
        def work() -> None:
            group = self._group(stack, service)
            if not group.replicas:
                raise OrchestratorError(
                    f"{stack}/{service} is scaled to 0 replicas: there is nothing to restart",
                    hint="scale it up instead",
                )
            for container in group.replicas:
                container.restart(timeout=grace(container))

        await self._run(work)

    async def scale(self, stack: str, service: str, replicas: int) -> ScaleOutcome:
        """Create or remove ``<stack>-<service>-N`` containers; 0 keeps a stopped placeholder."""
        if replicas < 0:
            raise InvalidInput("replicas cannot be negative", hint="use 0 to stop a service")

        def work() -> ScaleOutcome:
            group = self._group(stack, service)
            definition = group.definition
            if definition is None:
                raise OrchestratorError(
                    f"{stack}/{service} was not deployed by WindFlow: its definition is unknown",
                    hint="deploy the stack through WindFlow, then scale it",
                )
            if replicas > 1 and (
                any(p.published for p in definition.ports) or "container_name" in definition.extras
            ):
                raise InvalidInput(
                    f"{stack}/{service} cannot run {replicas} replicas on one host: it publishes "
                    "a fixed host port or sets container_name",
                    hint="remove the fixed host port (or container_name), or use a Swarm target",
                )
            partial = spec.stack_for_scale(stack, definition, group.current[0].labels)
            run = Deployment(self._docker(), partial, health_timeout=self.health_timeout)
            run.attempt(f"scale of {stack}/{service}", lambda: run.rescale(group, replicas))
            run.finish()
            return ScaleOutcome(
                service=service, replicas_before=len(group.replicas), replicas_after=replicas
            )

        return await self._run(work)


def _image(container: Container) -> str | None:
    return str(container.attrs.get("Config", {}).get("Image") or "") or None


def _status(name: str, group: Group) -> ServiceStatus:
    containers = group.replicas
    if not containers:
        return ServiceStatus(
            name=name,
            state="exited",
            desired=0,
            image=_image(group.placeholder) if group.placeholder else None,
            message="scaled to 0 replicas",
        )
    states = [c.attrs["State"] for c in containers]
    running = sum(1 for s in states if s.get("Running") and not s.get("Restarting"))
    healths = {(s.get("Health") or {}).get("Status") for s in states}
    health: Literal["healthy", "unhealthy", "starting", "none"] = (
        "unhealthy"
        if "unhealthy" in healths
        else "starting"
        if "starting" in healths
        else "healthy"
        if "healthy" in healths
        else "none"
    )
    exited = [s for s in states if s.get("Status") in ("exited", "dead")]
    state: ServiceState
    if any(s.get("Restarting") for s in states):
        state = "failed"
    elif running == len(containers):
        state = "starting" if health == "starting" else "running"
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
    stopped = [s for s in states if not s.get("Running")]
    unhealthy = [s for s in states if (s.get("Health") or {}).get("Status") == "unhealthy"]
    messages = [
        "killed: out of memory" if any(s.get("OOMKilled") for s in states) else "",
        *(str(s.get("Error")) for s in states if s.get("Error")),
        f"health probe: {last_probe(unhealthy[0])}" if unhealthy else "",
    ]
    return ServiceStatus(
        name=name,
        state=state,
        desired=len(containers),
        running=running,
        health=health,
        image=_image(containers[0]),
        ports=ports,
        restarts=sum(int(c.attrs.get("RestartCount", 0)) for c in containers),
        exit_code=stopped[-1].get("ExitCode") if stopped else None,
        message="; ".join(m for m in messages if m) or None,
    )


def _event(raw: dict[str, Any]) -> OrchestratorEvent:
    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
    details = {k: v for k, v in attributes.items() if k in ("exitCode", "signal", "image")}
    nanos = raw.get("timeNano")
    moment = nanos / 1e9 if isinstance(nanos, int) else raw.get("time", 0)
    return OrchestratorEvent(
        time=datetime.fromtimestamp(moment, tz=UTC),
        type=str(raw.get("Type", "")),
        action=str(raw.get("Action", "")),
        resource=str(attributes.get("name", raw.get("id", ""))),
        message=", ".join(f"{k}={v}" for k, v in sorted(details.items())),
    )


def _stats_of(container: Container) -> ContainerStats:
    raw = container.stats(stream=False)
    cpu, previous = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        previous.get("cpu_usage") or {}
    ).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - previous.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or 1
    memory = raw.get("memory_stats") or {}
    details = memory.get("stats") or {}
    # Like `docker stats`: page cache the kernel can drop does not count as used.
    cache = details.get("inactive_file", details.get("total_inactive_file", 0))
    used = max(0, int(memory.get("usage", 0)) - int(cache))
    limit = int(memory.get("limit", 0))
    return ContainerStats(
        container=container.name,
        service=container.labels.get(labels.SERVICE),
        cpu_percent=round(cpu_delta / system_delta * cpus * 100, 2) if system_delta > 0 else 0.0,
        memory_bytes=used,
        memory_limit_bytes=limit,
        memory_percent=round(used / limit * 100, 2) if limit else 0.0,
    )
