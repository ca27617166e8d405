"""Vagrant as a target: a stack becomes a VM running compose, or docker-provider containers.

Each stack has its own project folder (``<workdir>/<stack>``) holding the generated
``Vagrantfile`` (mode 0600: it carries the stack's environment values) and
``windflow.json``, what the last successful deploy rendered. Plans compare the new
rendering with both, machine by machine, and show the Vagrantfile's unified diff.

Every vagrant process gets an explicit environment (python-vagrant's ``env=``): the
engine of the docker provider in ``DOCKER_HOST``, ``VAGRANT_HOME`` and ``HOME`` under
the work root so the server account's ``~/.vagrant.d`` is never touched, no update
checks, the target's provider as default. Every call runs in a worker thread under
coreutils ``timeout``, which kills vagrant and the docker/ssh processes it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import vagrant as python_vagrant
from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from pydantic import BaseModel, Field, ValidationError
from requests.exceptions import RequestException

from tools.adapters import vagrantfile as vf
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
from tools.bounded import bound_lines, bound_text
from tools.connectivity import CheckResult
from tools.stack import Stack
from tools.targets import TargetKind, TargetSpec, VagrantConnection
from windflow.errors import InvalidInput, NotFound, OrchestratorError, TargetUnreachable

T = TypeVar("T")
# Vagrant needs ruby, ssh and (for the docker provider) the docker CLI: a fixed system
# PATH instead of whatever environment the server process happened to inherit.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
META = "windflow.json"
VAGRANTFILE = "Vagrantfile"
_STOPPED = ("stopped", "poweroff", "shutoff", "saved", "paused", "suspended", "frozen")
_STATES: dict[str, ServiceState] = {
    "running": "running",
    "preparing": "starting",
    "not_created": "pending",
    "aborted": "failed",
    **{state: "exited" for state in _STOPPED},
}
# Machine-readable error classes meaning "this provider cannot run here", for which
# `vagrant validate` falls back to checking everything but the provider block.
_PROVIDER_UNUSABLE = ("ProviderNotFound", "ProviderNotUsable", "NoDefaultProvider")


class VagrantValidation(BaseModel):
    stack: str
    provider: str
    valid: bool
    message: str
    provider_checked: bool = Field(
        description="False when the provider is unusable here and its block was not checked"
    )
    problems: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class _Vagrant(python_vagrant.Vagrant):
    """python-vagrant with an explicit executable under a hard time limit.

    python-vagrant has no timeout, but every command it runs is built by
    ``_make_vagrant_command``: prefixing it with ``timeout`` bounds all of them.
    """

    def __init__(self, root: Path, *, command: list[str], env: dict[str, str], log: Path) -> None:
        log_cm = python_vagrant.make_file_cm(str(log))
        super().__init__(root=str(root), env=env, out_cm=log_cm, err_cm=log_cm)
        self._command = command

    def _make_vagrant_command(self, args: list[str | None]) -> list[str]:
        return [*self._command, *(a for a in args if a is not None)]


class VagrantAdapter:
    kind = TargetKind.VAGRANT

    def __init__(
        self,
        spec: TargetSpec,
        *,
        workdir_root: Path,
        docker_host: str | None = None,
        vagrant_binary: str = "vagrant",
        timeout: float = 300.0,
        up_timeout: float = 1800.0,
        settle_seconds: float = 1.0,
    ) -> None:
        try:
            self.settings = VagrantConnection.model_validate(spec.connection)
        except ValidationError as exc:
            raise InvalidInput(
                f"invalid connection settings for the Vagrant target {spec.name}: {exc}",
                hint=f"allowed fields: {', '.join(VagrantConnection.model_fields)}",
            ) from exc
        self.target = spec
        self.provider = self.settings.provider
        self.workdir_root = workdir_root
        self.base = (
            Path(self.settings.workdir)
            if self.settings.workdir
            else workdir_root / vf.stack_directory(spec.id)
        )
        self.docker_host = docker_host or self.settings.docker_host or DEFAULT_DOCKER_HOST
        self.vagrant_binary = vagrant_binary
        self.timeout = timeout
        self.up_timeout = up_timeout
        self.settle_seconds = settle_seconds
        self._locks: dict[str, asyncio.Lock] = {}

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def uses_docker(self) -> bool:
        return self.provider == vf.DOCKER_PROVIDER

    def env(self, *, default_provider: bool = True) -> dict[str, str]:
        """The whole environment of every vagrant process, nothing inherited."""
        env = {
            "PATH": SYSTEM_PATH,
            "HOME": str(self.workdir_root / ".home"),
            "VAGRANT_HOME": str(self.workdir_root / ".vagrant.d"),
            "VAGRANT_CHECKPOINT_DISABLE": "1",
            "VAGRANT_DEFAULT_PROVIDER": self.provider,
            "DOCKER_HOST": self.docker_host,
            "LANG": "C.UTF-8",
        }
        if not default_provider:
            # `validate --ignore-provider` still fails on a default provider it cannot find.
            del env["VAGRANT_DEFAULT_PROVIDER"]
        return env

    def project_dir(self, stack: str) -> Path:
        return self.base / vf.stack_directory(stack)

    def _command(self, timeout: float) -> list[str]:
        binary = shutil.which(self.vagrant_binary, path=SYSTEM_PATH)
        if binary is None:
            raise TargetUnreachable(
                f"vagrant is not installed on the WindFlow server (looked for "
                f"{self.vagrant_binary!r})",
                hint="install it (apt-get install vagrant) or fix the server's vagrant path",
            )
        for folder in (".home", ".vagrant.d"):
            (self.workdir_root / folder).mkdir(parents=True, exist_ok=True)
        limiter = shutil.which("timeout", path=SYSTEM_PATH) or "timeout"
        return [limiter, "--kill-after=10", f"{max(1, round(timeout))}", binary]

    @contextlib.contextmanager
    def _engine(self) -> Iterator[docker.DockerClient]:
        """A client of the docker provider's engine, its failures turned into our errors."""
        try:
            client = docker.DockerClient(base_url=self.docker_host, timeout=30)
        except (DockerException, RequestException) as exc:
            raise self._unreachable(exc) from exc
        try:
            yield client
        except APIError as exc:
            raise OrchestratorError(
                f"the Docker engine at {self.docker_host} refused: {exc.explanation or exc}"
            ) from exc
        except (DockerException, RequestException) as exc:
            raise self._unreachable(exc) from exc
        finally:
            client.close()

    def _unreachable(self, exc: Exception) -> TargetUnreachable:
        return TargetUnreachable(
            f"the Docker engine of the Vagrant target {self.target.name} at "
            f"{self.docker_host} does not answer: {exc}",
            hint="start dockerd or fix the target's docker_host setting",
        )

    def _ping_engine(self) -> None:
        """The docker provider is only as reachable as its engine: say so plainly."""
        if self.uses_docker:
            with self._engine() as client:
                client.ping()

    def _call(self, root: Path, what: str, action: Callable[[Any], T], timeout: float) -> T:
        """Run python-vagrant ``action`` in ``root``, turning failures into clear errors."""
        command = self._command(timeout)
        (root / ".windflow").mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=root / ".windflow", suffix=".log")
        os.close(handle)
        log = Path(name)
        client = _Vagrant(root, command=command, env=self.env(), log=log)
        try:
            return action(client)
        except subprocess.CalledProcessError as exc:
            output = _text(exc.output) + log.read_text(errors="replace")
            raise _failure(what, exc.returncode, output, timeout) from exc
        except OSError as exc:
            raise TargetUnreachable(f"could not run vagrant {what}: {exc}") from exc
        finally:
            log.unlink(missing_ok=True)

    def _capture(
        self, root: Path, args: list[str], timeout: float, *, default_provider: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run vagrant with output captured, for commands python-vagrant does not wrap."""
        command = [*self._command(timeout), *args]
        try:
            return subprocess.run(
                command,
                cwd=root,
                env=self.env(default_provider=default_provider),
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout + 30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise TargetUnreachable(f"could not run vagrant {args[0]}: {exc}") from exc

    def _states(self, root: Path) -> dict[str, str]:
        statuses = self._call(root, "status", lambda v: v.status(), self.timeout)
        return {s.name: str(s.state) for s in statuses}

    @contextlib.asynccontextmanager
    async def _locked(self, stack: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(vf.stack_directory(stack), asyncio.Lock())
        async with lock:
            yield

    def _render(self, stack: Stack) -> vf.RenderedVagrantfile:
        return vf.render(stack, self.settings)

    # --- connectivity and reads ----------------------------------------------------------------

    async def check(self) -> CheckResult:
        started = time.perf_counter()

        def work() -> CheckResult:
            try:
                done = self._capture(Path("/"), ["--version"], 60)
            except TargetUnreachable as exc:
                return CheckResult(False, exc.message)
            if done.returncode != 0:
                return CheckResult(False, f"vagrant --version failed: {done.stderr.strip()}")
            version = done.stdout.strip().removeprefix("Vagrant ").strip()
            try:
                self._ping_engine()
            except TargetUnreachable as exc:
                return CheckResult(
                    False, f"vagrant {version} is installed but {exc.message}", version
                )
            return CheckResult(
                True, f"vagrant {version} with the {self.provider} provider", version
            )

        result = await asyncio.to_thread(work)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return CheckResult(result.reachable, result.detail, result.version, elapsed)

    async def validate(self, stack: Stack) -> VagrantValidation:
        """Render the stack and run ``vagrant validate`` on it in a scratch folder."""
        rendered = self._render(stack)

        def work() -> VagrantValidation:
            scratch_root = self.workdir_root / ".validate"
            scratch_root.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(dir=scratch_root))
            try:
                _write(scratch / VAGRANTFILE, rendered.text)
                done = self._capture(scratch, ["validate", "--machine-readable"], self.timeout)
                checked = True
                warnings = list(rendered.warnings)
                if done.returncode != 0 and _error_class(done.stdout) in _PROVIDER_UNUSABLE:
                    checked = False
                    warnings.append(
                        f"the {self.provider} provider is not usable on this server "
                        f"({_message(done.stdout, done.stderr)}); its settings were not checked"
                    )
                    done = self._capture(
                        scratch,
                        ["validate", "--ignore-provider", "--machine-readable"],
                        self.timeout,
                        default_provider=False,
                    )
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            valid = done.returncode == 0 and not rendered.problems
            message = (
                "Vagrantfile validated successfully"
                if done.returncode == 0
                else _message(done.stdout, done.stderr)
            )
            return VagrantValidation(
                stack=stack.name,
                provider=self.provider,
                valid=valid,
                message=message,
                provider_checked=checked,
                problems=rendered.problems,
                warnings=warnings,
            )

        return await asyncio.to_thread(work)

    async def status(self, stack: str) -> StackStatus:
        return await asyncio.to_thread(self._status, stack)

    def _status(self, stack: str) -> StackStatus:
        root = self.project_dir(stack)
        state = _load_state(root)
        if state is None or not (root / VAGRANTFILE).exists():
            return StackStatus(stack=stack, services=[])
        self._ping_engine()
        states = self._states(root)
        services = [
            self._service_status(root, machine, states.get(machine.name, "unknown"))
            for machine in state.machines
        ]
        return StackStatus(stack=stack, services=services)

    def _service_status(self, root: Path, machine: vf.Machine, raw: str) -> ServiceStatus:
        state: ServiceState = _STATES.get(raw, "unknown")
        status = ServiceStatus(
            name=machine.service,
            state=state,
            running=1 if state == "running" else 0,
            image=machine.image,
            ports=machine.ports,
            message=f"vagrant state {raw}" if state != "running" else None,
        )
        inspected = self._inspect(root, machine)
        if inspected is None:
            return status
        container, _ = inspected
        attrs = container.get("State") or {}
        if state == "unknown" and attrs.get("Running"):
            # Vagrant's docker provider reports a transient state it has no name for while
            # the engine is busy; the container itself is the better witness.
            status.state, status.running, status.message = "running", 1, None
        health = (attrs.get("Health") or {}).get("Status")
        exit_code = attrs.get("ExitCode") if not attrs.get("Running") else None
        # 137/143: killed by `vagrant halt` (SIGKILL after the stop timeout, or SIGTERM).
        if state == "exited" and (attrs.get("OOMKilled") or exit_code not in (0, 137, 143, None)):
            status.state = "failed"
        status.health = health if health in ("healthy", "unhealthy", "starting") else "none"
        status.exit_code = exit_code
        status.restarts = int(container.get("RestartCount", 0))
        status.message = attrs.get("Error") or status.message
        return status

    def _inspect(
        self, root: Path, machine: vf.Machine, log_lines: int = 0
    ) -> tuple[dict[str, Any], str] | None:
        """The docker provider's container of ``machine``: its attributes and last logs."""
        id_file = root / ".vagrant" / "machines" / machine.name / "docker" / "id"
        if not self.uses_docker or not id_file.exists():
            return None
        with self._engine() as client:
            try:
                container = client.containers.get(id_file.read_text().strip())
            except DockerNotFound:
                return None
            logs = container.logs(tail=log_lines).decode(errors="replace") if log_lines else ""
            return container.attrs, logs

    async def inventory(self) -> Inventory:
        def work() -> Inventory:
            workloads: list[Workload] = []
            for root in sorted(self.base.glob(f"*/{META}")) if self.base.exists() else []:
                state = _load_state(root.parent)
                if state is None:
                    continue
                for service in self._status(state.stack).services:
                    workloads.append(
                        Workload(
                            name=service.name,
                            kind="container" if self.uses_docker else "vm",
                            stack=state.stack,
                            state=service.state,
                            image=service.image,
                        )
                    )
            return Inventory(workloads=workloads)

        return await asyncio.to_thread(work)

    async def logs(
        self, stack: str, service: str, *, tail: int, since_seconds: int | None
    ) -> LogLines:
        if not self.uses_docker:
            raise OrchestratorError(
                f"logs of {stack}/{service} are inside the {self.provider} VM and need SSH",
                hint=f"on the server: vagrant ssh -c 'docker compose -p {stack} logs {service}' "
                f"in {self.project_dir(stack)}",
            )

        def work() -> LogLines:
            root = self.project_dir(stack)
            machine = self._machine(root, stack, service)
            self._ping_engine()
            done = self._capture(
                root, ["docker-logs", machine.name, "--no-prefix", "--no-color"], self.timeout
            )
            if done.returncode != 0:
                raise _failure(
                    "docker-logs", done.returncode, done.stdout + done.stderr, self.timeout
                )
            lines = done.stdout.splitlines()
            if since_seconds is not None:
                lines.insert(0, "[vagrant docker-logs has no --since: showing the newest lines]")
            kept, truncated = bound_lines(lines, tail)
            return LogLines(resource=f"{stack}/{service}", lines=kept, truncated=truncated)

        return await asyncio.to_thread(work)

    async def events(self, stack: str, *, since_seconds: int) -> list[OrchestratorEvent]:
        """Vagrant has no event API: always an empty list (use status and logs instead)."""
        return []

    def _machine(self, root: Path, stack: str, service: str) -> vf.Machine:
        state = _load_state(root)
        if state is None:
            raise NotFound(
                f"stack {stack} is not deployed on the Vagrant target {self.target.name}"
            )
        for machine in state.machines:
            if service in (machine.service, machine.name):
                return machine
        raise NotFound(
            f"stack {stack} has no machine for {service!r}",
            hint=f"machines: {', '.join(m.service for m in state.machines)}",
        )

    # --- plans ------------------------------------------------------------------------------

    async def plan_deploy(self, stack: Stack) -> list[PlanChange]:
        return (await self.preview(stack)).changes

    async def preview(self, stack: Stack) -> vf.VagrantPreview:
        """What deploy() would do, with the Vagrantfile diff and the unmapped settings."""
        rendered = self._render(stack)
        rendered.refuse_problems()
        return await asyncio.to_thread(self._preview, rendered)

    def _preview(self, rendered: vf.RenderedVagrantfile) -> vf.VagrantPreview:
        root = self.project_dir(rendered.stack)
        old_text = _read(root / VAGRANTFILE)
        state = _load_state(root)
        self._ping_engine()
        states = self._states(root) if old_text and state else {}
        changes = vf.changes_between(rendered, state, states)
        if rendered.network and not self._network_exists(rendered.network):
            changes.insert(0, PlanChange(action="create", resource=f"network {rendered.network}"))
        return vf.preview(rendered, changes, old_text)

    def _network_exists(self, name: str) -> bool:
        with self._engine() as client:
            return any(n.name == name for n in client.networks.list(names=[name]))

    # --- mutations ------------------------------------------------------------------------------

    async def deploy(self, stack: Stack) -> DeployOutcome:
        """Write the Vagrantfile and bring the machines up; undo this call's work on failure."""
        rendered = self._render(stack)
        rendered.refuse_problems()
        async with self._locked(stack.name):
            await asyncio.to_thread(self._ping_engine)
            validation = await self.validate(stack)
            if not validation.valid:
                raise InvalidInput(
                    f"the Vagrantfile for stack {stack.name} is invalid: {validation.message}",
                    hint="fix the stack settings the message names",
                )
            return await asyncio.to_thread(_Deployment(self, rendered).run)

    async def halt(self, stack: str, machine: str | None = None) -> StackStatus:
        """Stop the stack's machines (or one), keeping their disks / containers."""
        async with self._locked(stack):

            def work() -> None:
                root = self._existing(stack)
                name = self._machine(root, stack, machine).name if machine else None
                self._ping_engine()
                self._call(root, "halt", lambda v: v.halt(vm_name=name), self.timeout)

            await asyncio.to_thread(work)
        return await self.status(stack)

    async def remove(self, stack: str, *, remove_volumes: bool = False) -> DeployOutcome:
        """``vagrant destroy -f`` every machine of the stack, then delete its folder."""
        async with self._locked(stack):
            return await asyncio.to_thread(self._remove, stack, remove_volumes)

    def _remove(self, stack: str, remove_volumes: bool) -> DeployOutcome:
        root = self.project_dir(stack)
        state = _load_state(root)
        if not root.exists():
            return DeployOutcome(stack=stack)
        if state is not None and (root / VAGRANTFILE).exists():
            self._ping_engine()
            self._call(root, "destroy", lambda v: v.destroy(), self.timeout)
            if self.uses_docker:
                self._drop_docker_objects(state.network, state.volumes if remove_volumes else [])
        shutil.rmtree(root)
        return DeployOutcome(
            stack=stack, removed=[m.service for m in state.machines] if state else []
        )

    def _drop_docker_objects(self, network: str | None, volumes: list[str]) -> None:
        with self._engine() as client:
            for found in client.networks.list(names=[network]) if network else []:
                if found.name == network:
                    found.remove()
            for volume in volumes:
                with contextlib.suppress(DockerNotFound):
                    client.volumes.get(volume).remove(force=True)

    async def restart(self, stack: str, service: str) -> None:
        """``vagrant reload`` of the machine that runs ``service`` (a VM: the whole VM)."""
        async with self._locked(stack):

            def work() -> None:
                root = self._existing(stack)
                machine = self._machine(root, stack, service)
                self._ping_engine()
                self._call(
                    root, "reload", lambda v: v.reload(vm_name=machine.name), self.up_timeout
                )

            await asyncio.to_thread(work)

    async def scale(self, stack: str, service: str, replicas: int) -> ScaleOutcome:
        raise OrchestratorError(
            f"{stack}/{service} runs on a Vagrant machine, and machines do not scale",
            hint="deploy the stack to a Docker, Swarm or Kubernetes target to run replicas",
        )

    def _existing(self, stack: str) -> Path:
        root = self.project_dir(stack)
        if _load_state(root) is None or not (root / VAGRANTFILE).exists():
            raise NotFound(
                f"stack {stack} is not deployed on the Vagrant target {self.target.name}",
                hint="deploy it first, or check the stack name",
            )
        return root


class _Deployment:
    """One deploy, remembering what it destroyed and created so that a failure is undone."""

    def __init__(self, adapter: VagrantAdapter, rendered: vf.RenderedVagrantfile) -> None:
        self.adapter = adapter
        self.rendered = rendered
        self.root = adapter.project_dir(rendered.stack)
        self.old_text = _read(self.root / VAGRANTFILE)
        self.old_state = _load_state(self.root)
        self.outcome = DeployOutcome(stack=rendered.stack)
        self.created: list[str] = []
        self.taken_down: list[str] = []
        self.network_created = False
        self.started: list[str] = []

    def up(self, machine: str, *, provision: bool | None = None) -> None:
        provider = self.adapter.provider
        self.started.append(machine)

        def action(v: Any) -> None:
            v.up(vm_name=machine, provider=provider, provision=provision)

        self.adapter._call(self.root, f"up {machine}", action, self.adapter.up_timeout)

    def destroy(self, machine: str) -> None:
        self.adapter._call(
            self.root,
            f"destroy {machine}",
            lambda v: v.destroy(vm_name=machine),
            self.adapter.timeout,
        )

    def run(self) -> DeployOutcome:
        adapter = self.adapter
        adapter._ping_engine()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        states = adapter._states(self.root) if self.old_text and self.old_state else {}
        changes = {c.resource: c for c in vf.changes_between(self.rendered, self.old_state, states)}
        try:
            # Vagrant only addresses machines its Vagrantfile defines: what goes away or is
            # replaced is destroyed while the old file is still in place.
            for resource, change in changes.items():
                if (
                    change.action in ("delete", "recreate")
                    and states.get(resource, "") != "not_created"
                ):
                    self.destroy(resource)
                    self.taken_down.append(resource)
            _write(self.root / VAGRANTFILE, self.rendered.text)
            self._network()
            for machine in self.rendered.machines:
                self._converge(machine, changes[machine.name], states)
            self._verify_running()
        except (OrchestratorError, TargetUnreachable) as exc:
            undone = self._undo()
            raise OrchestratorError(
                f"deploy of stack {self.rendered.stack} failed: {exc.message}; {undone}",
                hint="fix the cause and deploy again",
                details={"error": exc.message},
            ) from exc
        _write(self.root / META, vf.deployed_state(self.rendered).model_dump_json(indent=2))
        self.outcome.removed = [
            vf.service_of(self.old_state, r) for r, c in changes.items() if c.action == "delete"
        ]
        return self.outcome

    def _converge(self, machine: vf.Machine, change: PlanChange, states: dict[str, str]) -> None:
        if change.action in ("create", "recreate"):
            self.created.append(machine.name)
            self.up(machine.name)
            target = self.outcome.created if change.action == "create" else self.outcome.recreated
            target.append(machine.service)
        elif change.action == "update":
            # A VM keeps its disk: new settings by reload, the new stack by provisioning.
            if states.get(machine.name) == "running":
                self.adapter._call(
                    self.root,
                    f"reload {machine.name}",
                    lambda v: v.reload(vm_name=machine.name, provision=True),
                    self.adapter.up_timeout,
                )
            else:
                self.up(machine.name, provision=True)
            self.outcome.recreated.append(machine.service)
        elif change.action == "restart":
            self.up(machine.name)
            self.outcome.unchanged.append(machine.service)
        else:
            self.outcome.unchanged.append(machine.service)

    def _verify_running(self) -> None:
        """`vagrant up` returns once a container runs; one that dies right after it failed too."""
        started = [m for m in self.rendered.machines if m.name in self.started]
        if not self.adapter.uses_docker or not started:
            return
        time.sleep(self.adapter.settle_seconds)
        for machine in started:
            inspected = self.adapter._inspect(self.root, machine, log_lines=5)
            state = (inspected[0].get("State") or {}) if inspected else {}
            if not state.get("Running") or state.get("Restarting"):
                logs = inspected[1].strip() if inspected else ""
                raise OrchestratorError(
                    f"{machine.service} stopped right after it started (exit code "
                    f"{state.get('ExitCode')}): {logs[-500:] or 'no output'}"
                )

    def _network(self) -> None:
        name = self.rendered.network
        if name is None or self.adapter._network_exists(name):
            return
        with self.adapter._engine() as client:
            client.networks.create(
                name, driver="bridge", labels={vf.STACK_LABEL: self.rendered.stack}
            )
        self.network_created = True

    def _undo(self) -> str:
        failures: list[str] = []
        for machine in reversed(self.created):
            try:
                self.destroy(machine)
            except (OrchestratorError, TargetUnreachable) as exc:
                failures.append(f"destroy {machine}: {exc.message}")
        if self.network_created:
            try:
                self.adapter._drop_docker_objects(self.rendered.network, [])
            except (OrchestratorError, TargetUnreachable) as exc:
                failures.append(f"remove network: {exc.message}")
        if self.old_text is None and failures:
            # Keep the folder, now described by windflow.json, so remove() can finish.
            _write(self.root / META, vf.deployed_state(self.rendered).model_dump_json())
            done = "could not destroy everything it had created; remove the stack to finish"
        elif self.old_text is None:
            shutil.rmtree(self.root, ignore_errors=True)
            done = f"destroyed the {len(self.created)} machine(s) it had created"
        else:
            _write(self.root / VAGRANTFILE, self.old_text)
            for machine in self.taken_down:
                try:
                    self.up(machine)
                except (OrchestratorError, TargetUnreachable) as exc:
                    failures.append(f"restore {machine}: {exc.message}")
            done = (
                f"destroyed {len(self.created)} new machine(s), restored the previous "
                f"Vagrantfile and brought {len(self.taken_down)} replaced machine(s) back"
            )
        return done + (f" (undo problems: {'; '.join(failures)})" if failures else "")


# --- helpers ----------------------------------------------------------------------------------


def _load_state(root: Path) -> vf.DeployedState | None:
    text = _read(root / META)
    if text is None:
        return None
    try:
        return vf.DeployedState.model_validate_json(text)
    except ValidationError as exc:
        raise OrchestratorError(
            f"{root / META} is corrupt: {exc}",
            hint="remove the stack's folder after destroying its machines by hand",
        ) from exc


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _write(path: Path, text: str) -> None:
    """Atomic, owner-only: the Vagrantfile holds the stack's environment values."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _machine_readable(output: str) -> Iterator[tuple[str, str]]:
    for line in output.splitlines():
        parts = line.split(",", 3)
        if len(parts) == 4 and parts[0].isdigit():
            yield parts[2], parts[3].replace("%!(VAGRANT_COMMA)", ",").replace("\\n", "\n")


def _error_class(output: str) -> str:
    for kind, data in _machine_readable(output):
        if kind == "error-exit":
            return data.split(",", 1)[0].rsplit("::", 1)[-1]
    return ""


def _message(stdout: str, stderr: str = "") -> str:
    """The error Vagrant reported: machine-readable error-exit first, else the output's end."""
    for kind, data in _machine_readable(stdout):
        if kind == "error-exit":
            return data.split(",", 1)[-1].strip()
    lines: list[str] = []
    for line in (stdout + "\n" + stderr).splitlines():
        parsed = next(_machine_readable(line), None)
        if parsed is None:
            if line.strip():
                lines.append(line)
        elif parsed[0] == "ui":
            lines.append(parsed[1].split(",", 1)[-1])
    return bound_text("\n".join(lines[-30:]).strip(), 3000)[0] or "no output"


def _failure(what: str, code: int, output: str, timeout: float) -> OrchestratorError:
    if code in (124, 137):
        return OrchestratorError(
            f"vagrant {what} did not finish within {timeout:.0f} s and was stopped",
            hint="check the provider (VM boot, image pull); retry or raise the timeout",
        )
    return OrchestratorError(
        f"vagrant {what} failed (exit {code}): {_message(output)}",
        hint="see the message; fix the stack, the box or the provider and retry",
    )
