"""A Docker Swarm as a target: compose stacks deployed as Swarm services through the Engine API.

``docker stack deploy`` semantics, reimplemented on the SDK: overlay networks, configs,
secrets and services named ``<stack>_<name>`` and labelled ``com.docker.stack.namespace``.
A redeploy updates only services whose config hash (or config/secret content) changed and
removes services dropped from the stack. A deploy waits until what it touched converges;
if anything fails it is undone: new objects are removed and updated services go back to
their previous spec through the engine's native rollback.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import docker
from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from docker.models.services import Service as SwarmService
from pydantic import BaseModel
from requests.exceptions import RequestException

from tools.adapters import swarm_spec as sw
from tools.adapters.docker_client import EngineConnection
from tools.adapters.docker_labels import SPEC, changed_fields, decode_spec
from tools.adapters.protocol import (
    DeployOutcome,
    Inventory,
    LogLines,
    OrchestratorEvent,
    ScaleOutcome,
    StackStatus,
    Workload,
)
from tools.adapters.swarm_state import (
    Progress,
    event_from,
    parse_time,
    progress,
    service_status,
)
from tools.base import PlanChange
from tools.bounded import bound_items, bound_lines, bound_text
from tools.connectivity import CheckResult, check
from tools.stack import Stack, config_hash, dependency_order
from tools.targets import TargetKind, TargetSpec
from windflow.errors import (
    InvalidInput,
    NotFound,
    OrchestratorError,
    TargetUnreachable,
    WindFlowError,
)

T = TypeVar("T")
MAX_INVENTORY = 500
MAX_EVENTS = 300
FILE_KINDS: tuple[sw.FileKind, ...] = ("config", "secret")
FREE_TIMEOUT = 30.0  # how long removal waits for a network/config to stop being in use
ROLLBACK_TIMEOUT = 60.0  # how long a failed deploy waits for its rollbacks to settle


class ServiceRollback(BaseModel):
    service: str
    version_before: int
    version_after: int
    image_before: str | None
    image_after: str | None


class SwarmAdapter:
    kind = TargetKind.SWARM

    def __init__(
        self,
        spec: TargetSpec,
        *,
        default_host: str | None = None,
        base_dir: Path | None = None,
        variables: Mapping[str, str] | None = None,
        converge_timeout: float = 120.0,
        poll_interval: float = 0.5,
    ) -> None:
        """``base_dir`` resolves configs/secrets given as ``file:``; ``variables`` feeds
        ``environment:`` sources (WindFlow never reads its own process environment)."""
        self.target = spec
        self.host = spec.connection.get("host") or default_host
        self.base_dir = base_dir
        self.variables = dict(variables or {})
        self.converge_timeout = converge_timeout
        self.poll_interval = poll_interval
        self._engine = EngineConnection(spec, self.host, refused_by="the Swarm manager")
        self._manager_checked = False

    # --- plumbing -----------------------------------------------------------------------

    def _docker(self) -> docker.DockerClient:
        client = self._engine.client()
        if not self._manager_checked:
            self._require_manager(client)
            self._manager_checked = True
        return client

    def _require_manager(self, client: docker.DockerClient) -> None:
        where = self.host or "the default socket"
        try:
            swarm = client.info().get("Swarm") or {}
        except (DockerException, RequestException) as exc:
            raise TargetUnreachable(
                f"cannot reach the Docker engine of {self.target.name} at {where}: {exc}",
                hint="check that dockerd runs and the target's host setting is right",
            ) from exc
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            state = swarm.get("LocalNodeState") or "unknown"
            role = "a worker" if state == "active" else f"not in a swarm (state {state})"
            raise OrchestratorError(
                f"the Docker engine of {self.target.name} at {where} is not a Swarm manager:"
                f" it is {role}",
                hint="run `docker swarm init` there, or point the target at a manager node;"
                " use a docker target for a plain engine",
            )

    async def _run(self, work: Callable[[], T]) -> T:
        return await self._engine.run(work)

    def _services(self, stack: str) -> dict[str, SwarmService]:
        """The stack's services by short name, with running/desired task counts."""
        _check_stack(stack)
        found = self._docker().services.list(
            filters={"label": f"{sw.NAMESPACE}={stack}"}, status=True
        )
        prefix = f"{stack}_"
        return {s.name.removeprefix(prefix): s for s in found}

    def _service(self, stack: str, name: str) -> SwarmService:
        found = self._services(stack).get(name)
        if found is None:
            raise NotFound(
                f"stack {stack} has no service {name} on {self.target.name}",
                hint="check the names with the stack's status",
            )
        return found

    def _tasks(self, service: SwarmService) -> list[dict[str, Any]]:
        try:
            return list(self._docker().api.tasks(filters={"service": [service.id]}))
        except DockerNotFound:  # removed meanwhile
            return []

    def _put(self, service: SwarmService, new_spec: dict[str, Any]) -> None:
        """Send a complete ServiceSpec: nothing of the current spec is merged in."""
        self._docker().api.update_service(
            service.id,
            service.version,
            task_template=new_spec["TaskTemplate"],
            name=new_spec["Name"],
            labels=new_spec.get("Labels") or {},
            mode=new_spec["Mode"],
            update_config=new_spec.get("UpdateConfig"),
            rollback_config=new_spec.get("RollbackConfig"),
            endpoint_spec=new_spec.get("EndpointSpec"),
        )

    def _native_rollback(self, service: SwarmService) -> None:
        # SDK 7 has no argument for it: POST /services/{id}/update?rollback=previous makes
        # the manager swap in PreviousSpec (the body is ignored), like `docker service
        # rollback`, so the rollback_config and the update machinery of the engine apply.
        api = self._docker().api
        response = api._post_json(
            api._url("/services/{0}/update", service.id),
            data=service.attrs["Spec"],
            params={"version": service.version, "rollback": "previous"},
        )
        api._raise_for_status(response)

    def _remove_until_gone(self, items: list[tuple[str, Any]], deadline: float) -> list[str]:
        """Remove networks/configs/secrets/volumes; what is still there at the deadline.

        Tasks of a just-removed service release their network and configs only once they
        have shut down, and a removed network stays listed until its endpoints are gone."""
        errors: dict[str, str] = {}
        pending = list(items)
        while pending:
            still: list[tuple[str, Any]] = []
            for what, item in pending:
                key = f"{what} {item.name}"
                try:
                    item.remove()
                except DockerNotFound:
                    pass
                except APIError as exc:
                    errors[key] = str(exc.explanation or exc)
                try:
                    item.reload()
                    still.append((what, item))
                except DockerNotFound:
                    errors.pop(key, None)
            pending = still
            if pending and time.monotonic() > deadline:
                return [
                    f"{what} {item.name} ({errors.get(f'{what} {item.name}', 'still present')})"
                    for what, item in pending
                ]
            if pending:
                time.sleep(self.poll_interval)
        return []

    async def check(self) -> CheckResult:
        return await check(self.target, default_docker_host=self.host)

    # --- reads --------------------------------------------------------------------------

    async def inventory(self) -> Inventory:
        def work() -> Inventory:
            services = self._docker().services.list(status=True)
            workloads = [
                Workload(
                    name=s.name,
                    kind="service",
                    stack=(s.attrs["Spec"].get("Labels") or {}).get(sw.NAMESPACE),
                    state=_counts(s),
                    image=s.attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Image"),
                )
                for s in sorted(services, key=lambda s: s.name)
            ]
            kept, truncated = bound_items(workloads, MAX_INVENTORY)
            return Inventory(workloads=kept, truncated=truncated)

        return await self._run(work)

    async def status(self, stack: str) -> StackStatus:
        def work() -> StackStatus:
            services = self._services(stack)
            return StackStatus(
                stack=stack,
                services=[
                    service_status(name, svc.attrs, self._tasks(svc))
                    for name, svc in sorted(services.items())
                ],
            )

        return await self._run(work)

    async def logs(
        self, stack: str, service: str, *, tail: int, since_seconds: int | None
    ) -> LogLines:
        if tail < 1:
            raise InvalidInput("tail must be at least 1", hint="e.g. tail=100")

        def work() -> LogLines:
            found = self._service(stack, service)
            slots = {t["ID"]: t.get("Slot") or t.get("NodeID", "")[:8] for t in self._tasks(found)}
            since = int(time.time()) - since_seconds if since_seconds else None
            raw = found.logs(
                stdout=True, stderr=True, tail=tail, since=since, details=True, timestamps=False
            )
            text, cut = bound_text(b"".join(raw).decode(errors="replace"))
            lines = [_log_line(service, line, slots) for line in text.splitlines()]
            kept, truncated = bound_lines(lines, tail)
            return LogLines(resource=f"{stack}/{service}", lines=kept, truncated=cut or truncated)

        return await self._run(work)

    async def events(self, stack: str, *, since_seconds: int) -> list[OrchestratorEvent]:
        def work() -> list[OrchestratorEvent]:
            _check_stack(stack)
            client = self._docker()
            now = int(time.time())
            window = {"since": now - since_seconds, "until": now, "decode": True}
            prefix = f"{stack}_"
            named = client.events(filters={"type": ["service", "config", "secret"]}, **window)
            swarm_objects = [raw for raw in named if _actor_name(raw).startswith(prefix)]
            containers = list(
                client.events(
                    filters={"type": ["container"], "label": [f"{sw.NAMESPACE}={stack}"]},
                    **window,
                )
            )
            merged = sorted(swarm_objects + containers, key=lambda r: r.get("timeNano", 0))
            return [event_from(raw) for raw in merged[-MAX_EVENTS:]]

        return await self._run(work)

    async def wait_converged(self, stack: str, *, timeout: float) -> StackStatus:  # noqa: ASYNC109
        """Wait until every service of the stack runs as many tasks as it wants."""
        # A deadline, not asyncio.timeout: on expiry the caller needs the task errors.
        deadline = time.monotonic() + timeout
        while True:
            states = await self._run(lambda: self._progress_of(stack, None))
            if not states:
                raise NotFound(
                    f"stack {stack} has no services on {self.target.name}",
                    hint="deploy it first, or check the stack name",
                )
            if all(p.converged for p in states.values()):
                return await self.status(stack)
            if time.monotonic() > deadline:
                waiting = "; ".join(p.summary for p in states.values() if not p.converged)
                raise OrchestratorError(
                    f"stack {stack} did not converge within {timeout:.0f} s: {waiting}",
                    hint="the task errors say why; the service's logs and events tell more",
                )
            await asyncio.sleep(self.poll_interval)

    def _progress_of(
        self, stack: str, only: set[str] | None, since: datetime | None = None
    ) -> dict[str, Progress]:
        states: dict[str, Progress] = {}
        for name, svc in self._services(stack).items():
            if only is None or svc.id in only:
                states[name] = progress(name, svc.attrs, self._tasks(svc), since=since)
        return states

    # --- mutations ----------------------------------------------------------------------

    async def plan_deploy(self, stack: Stack) -> list[PlanChange]:
        return await self._run(lambda: _Deployment(self, stack).plan())

    async def deploy(self, stack: Stack) -> DeployOutcome:
        return await self._run(lambda: _Deployment(self, stack).run())

    async def remove(self, stack: str, *, remove_volumes: bool = False) -> DeployOutcome:
        def work() -> DeployOutcome:
            client = self._docker()
            services = self._services(stack)
            for svc in services.values():
                with contextlib.suppress(DockerNotFound):
                    svc.remove()
            label = {"label": f"{sw.NAMESPACE}={stack}"}
            collections: list[tuple[str, Any]] = [
                ("network", client.networks),
                ("config", client.configs),
                ("secret", client.secrets),
            ]
            if remove_volumes:
                collections.append(("volume", client.volumes))
            items = [(what, item) for what, c in collections for item in c.list(filters=label)]
            leftovers = self._remove_until_gone(items, time.monotonic() + FREE_TIMEOUT)
            if leftovers:
                raise OrchestratorError(
                    f"removed the services of stack {stack}, but not: {'; '.join(leftovers)}",
                    hint="something outside the stack still uses them; remove it and retry",
                )
            return DeployOutcome(stack=stack, removed=sorted(services))

        return await self._run(work)

    async def restart(self, stack: str, service: str) -> None:
        """Replace every task (a forced update), as ``docker service update --force``."""

        def work() -> None:
            found = self._service(stack, service)
            new_spec = copy.deepcopy(found.attrs["Spec"])
            template = new_spec["TaskTemplate"]
            template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
            self._put(found, new_spec)

        await self._run(work)

    async def scale(self, stack: str, service: str, replicas: int) -> ScaleOutcome:
        if replicas < 0:
            raise InvalidInput("replicas must be 0 or more", hint="0 stops every task")

        def work() -> ScaleOutcome:
            found = self._service(stack, service)
            new_spec = copy.deepcopy(found.attrs["Spec"])
            if "Replicated" not in new_spec["Mode"]:
                raise InvalidInput(
                    f"{stack}/{service} is a global service: it runs one task per node",
                    hint="change deploy.mode to replicated to scale it",
                )
            before = int(new_spec["Mode"]["Replicated"].get("Replicas", 1))
            new_spec["Mode"] = {"Replicated": {"Replicas": replicas}}
            self._put(found, new_spec)
            return ScaleOutcome(service=service, replicas_before=before, replicas_after=replicas)

        return await self._run(work)

    async def rollback(self, stack: str, service: str) -> ServiceRollback:
        """Put the service's previous spec back with the engine's native rollback."""

        def work() -> ServiceRollback:
            found = self._service(stack, service)
            previous = found.attrs.get("PreviousSpec")
            if not previous:
                raise InvalidInput(
                    f"{stack}/{service} has no previous version to roll back to",
                    hint="it has not been updated since it was created",
                )
            before = found.version
            image_before = _image(found.attrs["Spec"])
            self._native_rollback(found)
            found.reload()
            return ServiceRollback(
                service=service,
                version_before=before,
                version_after=found.version,
                image_before=image_before,
                image_after=_image(found.attrs["Spec"]),
            )

        return await self._run(work)


class _Deployment:
    """One converge run, remembering what it did so that a failure can be undone."""

    def __init__(self, adapter: SwarmAdapter, stack: Stack) -> None:
        self.adapter = adapter
        self.stack = stack
        self.outcome = DeployOutcome(stack=stack.name)
        self.created_services: list[str] = []
        self.updated_services: list[tuple[str, str]] = []  # (id, the spec hash we sent)
        self.created_objects: list[tuple[str, Any]] = []

    # What to do --------------------------------------------------------------------------

    def _validate(self) -> None:
        _check_stack(self.stack.name)
        problems = sw.unsupported(
            self.stack, base_dir=self.adapter.base_dir, variables=self.adapter.variables
        )
        if problems:
            raise InvalidInput(
                f"cannot deploy stack {self.stack.name} to a Swarm: {'; '.join(problems)}",
                hint="remove or change these settings; Swarm services cannot express them",
                details={"unsupported": problems},
            )
        self.client = self.adapter._docker()
        self.files: dict[sw.FileKind, dict[str, sw.FileObject]] = {
            kind: sw.file_objects(
                self.stack,
                kind,
                base_dir=self.adapter.base_dir,
                variables=self.adapter.variables,
            )
            for kind in FILE_KINDS
        }
        self.existing = self.adapter._services(self.stack.name)

    def _find(self, kind: str, name: str) -> Any | None:
        collection = {
            "network": self.client.networks,
            "config": self.client.configs,
            "secret": self.client.secrets,
        }[kind]
        # The engine's name filter matches substrings.
        matches = [o for o in collection.list(filters={"name": name}) if o.name == name]
        return matches[0] if matches else None

    def _object_changes(self) -> list[PlanChange]:
        changes: list[PlanChange] = []
        for key in sw.networks_used(self.stack):
            name = sw.network_name(self.stack, key)
            if self._find("network", name) is None:
                if sw.is_external_network(self.stack, key):
                    raise InvalidInput(
                        f"external network {name} does not exist on the swarm",
                        hint=f"create it (docker network create -d overlay {name}) or drop"
                        " external:",
                    )
                changes.append(PlanChange(action="create", resource=f"network {name}"))
        for kind, objects in self.files.items():
            for obj in objects.values():
                if self._find(kind, obj.name) is not None:
                    continue
                if obj.data is None:
                    raise InvalidInput(
                        f"external {kind} {obj.name} does not exist on the swarm",
                        hint=f"create it with docker {kind} create, or define it in the stack",
                    )
                changes.append(PlanChange(action="create", resource=f"{kind} {obj.name}"))
        return changes

    def _service_change(self, name: str) -> PlanChange:
        service = self.stack.services[name]
        current = self.existing.get(name)
        if current is None:
            return PlanChange(action="create", resource=name, detail=service.image or "")
        labels = current.attrs["Spec"].get("Labels") or {}
        reasons: list[str] = []
        if labels.get(sw.CONFIG_HASH) != config_hash(service):
            changed = changed_fields(decode_spec(labels.get(SPEC)), service)
            reasons.append(f"changed: {', '.join(changed)}" if changed else "definition changed")
        used = _file_names(current.attrs["Spec"])
        for kind in FILE_KINDS:
            for ref in service.configs if kind == "config" else service.secrets:
                if self.files[kind][ref.source].name not in used:
                    reasons.append(f"{kind} {ref.source} content changed")
        if reasons:
            return PlanChange(action="update", resource=name, detail="; ".join(reasons))
        mode = current.attrs["Spec"]["Mode"]
        if "Replicated" in mode and not sw.is_global(service):
            now, wanted = int(mode["Replicated"].get("Replicas", 1)), sw.replicas(service)
            if now != wanted:
                return PlanChange(action="scale", resource=name, detail=f"{now} -> {wanted}")
        return PlanChange(action="noop", resource=name)

    def plan(self) -> list[PlanChange]:
        self._validate()
        changes = self._object_changes()
        for layer in dependency_order(self.stack):
            changes.extend(self._service_change(name) for name in layer)
        for name in sorted(set(self.existing) - set(self.stack.services)):
            changes.append(PlanChange(action="delete", resource=name, detail="not in the stack"))
        return changes

    # Doing it -----------------------------------------------------------------------------

    def run(self) -> DeployOutcome:
        changes = self.plan()
        deadline = time.monotonic() + self.adapter.converge_timeout
        # Task failures count from now on, in the engine's clock (tasks carry its times).
        self.since = parse_time(self.client.info().get("SystemTime"))
        try:
            self._create_objects()
            refs = self._object_refs()
            by_service = {c.resource: c for c in changes if c.resource in self.stack.services}
            for layer in dependency_order(self.stack):
                touched = [self._apply(by_service[name], refs) for name in layer]
                # Later layers depend on this one: they start once it runs (healthy, when
                # it has a healthcheck, since Swarm only reports healthy tasks as running).
                self._await({sid for sid in touched if sid}, deadline)
        except (WindFlowError, APIError, DockerException, RequestException) as exc:
            undone = self._undo()
            reason = exc.message if isinstance(exc, WindFlowError) else str(exc)
            raise OrchestratorError(
                f"deploy of stack {self.stack.name} failed: {reason}; rolled back: {undone}",
                hint="what this deploy changed was undone; fix the cause and deploy again",
            ) from exc
        for name in sorted(set(self.existing) - set(self.stack.services)):
            with contextlib.suppress(DockerNotFound):
                self.existing[name].remove()
            self.outcome.removed.append(name)
        self._collect_garbage()
        return self.outcome

    def _create_objects(self) -> None:
        for key in sw.networks_used(self.stack):
            kwargs = sw.network_create_kwargs(self.stack, key)
            if sw.is_external_network(self.stack, key) or self._find("network", kwargs["name"]):
                continue
            self.created_objects.append(("network", self.client.networks.create(**kwargs)))
        for kind, objects in self.files.items():
            collection = self.client.configs if kind == "config" else self.client.secrets
            for obj in objects.values():
                if obj.data is None or self._find(kind, obj.name) is not None:
                    continue
                created = collection.create(name=obj.name, data=obj.data, labels=obj.labels)
                self.created_objects.append((kind, created))

    def _object_refs(self) -> dict[tuple[sw.FileKind, str], sw.ObjectRef]:
        refs: dict[tuple[sw.FileKind, str], sw.ObjectRef] = {}
        for kind, objects in self.files.items():
            for key, obj in objects.items():
                found = self._find(kind, obj.name)
                if found is None:
                    raise OrchestratorError(f"{kind} {obj.name} vanished during the deploy")
                refs[(kind, key)] = sw.ObjectRef(found.id, obj.name)
        return refs

    def _apply(self, change: PlanChange, refs: Mapping[Any, sw.ObjectRef]) -> str | None:
        name = change.resource
        service = self.stack.services[name]
        wanted = sw.service_spec(self.stack, service, refs)
        if change.action == "noop":
            self.outcome.unchanged.append(name)
            return None
        if change.action == "create":
            created = self.client.api.create_service(
                wanted["TaskTemplate"],
                name=wanted["Name"],
                labels=wanted["Labels"],
                mode=wanted["Mode"],
                update_config=wanted["UpdateConfig"],
                rollback_config=wanted["RollbackConfig"],
                endpoint_spec=wanted["EndpointSpec"],
            )
            self.created_services.append(created["ID"])
            self.outcome.created.append(name)
            return str(created["ID"])
        current = self.existing[name]
        if change.action == "scale":
            wanted = copy.deepcopy(current.attrs["Spec"])
            wanted["Mode"] = {"Replicated": {"Replicas": sw.replicas(service)}}
        self.adapter._put(current, wanted)
        sent_hash = (wanted.get("Labels") or {}).get(sw.CONFIG_HASH, "")
        self.updated_services.append((current.id, sent_hash))
        self.outcome.recreated.append(name)
        return str(current.id)

    def _await(self, ids: set[str], deadline: float) -> None:
        if not ids:
            return
        while True:
            states = self.adapter._progress_of(self.stack.name, ids, self.since)
            failed = [p.failure for p in states.values() if p.failure]
            if failed:
                raise OrchestratorError("; ".join(failed))
            if len(states) == len(ids) and all(p.converged for p in states.values()):
                return
            if time.monotonic() > deadline:
                waiting = "; ".join(p.summary for p in states.values() if not p.converged)
                raise OrchestratorError(
                    f"not converged within {self.adapter.converge_timeout:.0f} s: {waiting}"
                )
            time.sleep(self.adapter.poll_interval)

    def _undo(self) -> str:
        done: list[str] = []
        removed = 0
        for service_id in reversed(self.created_services):
            with contextlib.suppress(APIError, DockerException):
                self.client.api.remove_service(service_id)
                removed += 1
        done.append(f"removed {removed} new services")
        restored: set[str] = set()
        for service_id, sent_hash in self.updated_services:
            with contextlib.suppress(APIError, DockerException):
                current = self.client.services.get(service_id)
                labels = current.attrs["Spec"].get("Labels") or {}
                state = (current.attrs.get("UpdateStatus") or {}).get("State", "")
                # The engine may have rolled back already (failure_action: rollback); a
                # second rollback would swap the failed spec back in.
                if labels.get(sw.CONFIG_HASH) == sent_hash and not state.startswith("rollback"):
                    self.adapter._native_rollback(current)
                restored.add(service_id)
        done.append(f"rolled back {len(restored)} updated services to their previous spec")
        unsettled = self._settle(restored)
        if unsettled:
            done.append(f"still rolling back: {unsettled}")
        created = list(reversed(self.created_objects))
        left = self.adapter._remove_until_gone(created, time.monotonic() + FREE_TIMEOUT)
        done.append(f"removed {len(self.created_objects) - len(left)} new networks/configs/secrets")
        if left:
            done.append(f"could not remove {', '.join(left)}")
        return ", ".join(done)

    def _settle(self, ids: set[str]) -> str:
        """Wait for rolled-back services to run their previous spec again; what has not."""
        deadline = time.monotonic() + min(self.adapter.converge_timeout, ROLLBACK_TIMEOUT)
        while ids:
            with contextlib.suppress(APIError, DockerException):
                states = self.adapter._progress_of(self.stack.name, ids)
                waiting = [p.summary for p in states.values() if not p.converged]
                if not waiting or time.monotonic() > deadline:
                    return "; ".join(waiting)
            if time.monotonic() > deadline:
                return "the engine did not answer"
            time.sleep(self.adapter.poll_interval)
        return ""

    def _collect_garbage(self) -> None:
        """Drop stack objects no service spec, current or previous, refers to any more.

        Previous specs count: the engine's native rollback needs their configs, secrets
        and networks to still exist."""
        referenced: set[str] = set()
        for svc in self.client.services.list():
            for key in ("Spec", "PreviousSpec"):
                if svc.attrs.get(key):
                    referenced |= _file_names(svc.attrs[key]) | _network_ids(svc.attrs[key])
        label = {"label": f"{sw.NAMESPACE}={self.stack.name}"}
        wanted = {o.name for objects in self.files.values() for o in objects.values()}
        wanted |= {sw.network_name(self.stack, k) for k in sw.networks_used(self.stack)}
        unused = [
            ("object", item)
            for collection in (self.client.configs, self.client.secrets, self.client.networks)
            for item in collection.list(filters=label)
            if item.name not in wanted and not {item.name, item.id} & referenced
        ]
        # Housekeeping: what is still in use now goes with a later deploy or the removal.
        self.adapter._remove_until_gone(unused, time.monotonic() + 5)


_STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _check_stack(name: str) -> None:
    # The name goes into object names and label filters: keep it to compose's alphabet.
    if not _STACK_NAME.match(name):
        raise InvalidInput(
            f"invalid stack name {name!r}",
            hint="use 1-40 characters: lowercase letters, digits, '_' and '-'",
        )


def _file_names(service_spec: Mapping[str, Any]) -> set[str]:
    container = service_spec.get("TaskTemplate", {}).get("ContainerSpec", {})
    names = {c.get("ConfigName", "") for c in container.get("Configs") or []}
    return names | {s.get("SecretName", "") for s in container.get("Secrets") or []}


def _network_ids(service_spec: Mapping[str, Any]) -> set[str]:
    networks = service_spec.get("TaskTemplate", {}).get("Networks") or []
    return {str(n.get("Target", "")) for n in networks}


def _image(service_spec: Mapping[str, Any]) -> str | None:
    image = service_spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image")
    return str(image) if image else None


def _actor_name(raw: Mapping[str, Any]) -> str:
    return str(((raw.get("Actor") or {}).get("Attributes") or {}).get("name", ""))


def _counts(service: SwarmService) -> str:
    status = service.attrs.get("ServiceStatus") or {}
    return f"{status.get('RunningTasks', 0)}/{status.get('DesiredTasks', 0)} running"


_DETAILS = re.compile(r"^(\S*com\.docker\.swarm\.task\.id=(?P<task>[a-z0-9]+)\S*) (?P<line>.*)$")


def _log_line(service: str, raw: str, slots: Mapping[str, object]) -> str:
    """``details=true`` prefixes each line with its task; show it as ``service.slot``."""
    match = _DETAILS.match(raw)
    if match is None:
        return raw
    task = match.group("task")
    return f"{service}.{slots.get(task, task[:10])} | {match.group('line')}"
