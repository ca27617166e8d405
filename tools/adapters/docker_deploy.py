"""Converging one Docker engine to a stack: plan, apply in dependency order, undo on failure.

The plan compares each service's config hash with its containers' label. Applying it
journals every step; on failure the journal is replayed backwards: new containers,
networks and volumes are removed, containers that were set aside (stopped and renamed)
get their names back and are started again. Removals happen only once everything worked.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import docker
from docker.errors import APIError, DockerException, ImageNotFound
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import RUN_CREATE_KWARGS, RUN_HOST_CONFIG_KWARGS, Container
from pydantic import Field
from requests.exceptions import RequestException

from tools.adapters import docker_labels as labels
from tools.adapters import docker_spec as spec
from tools.adapters.protocol import DeployOutcome
from tools.base import PlanChange
from tools.stack import Service, Stack, dependency_order
from windflow.errors import OrchestratorError, TargetUnreachable, WindFlowError

POLL_SECONDS = 0.2
# The engine's own healthcheck defaults, used to size the wait for a healthy dependency.
DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_RETRIES = 30.0, 30.0, 3
ServiceAction = Literal["create", "recreate", "scale", "restart", "noop"]


class DockerDeployOutcome(DeployOutcome):
    """A ``DeployOutcome`` that also names services changed without being recreated."""

    scaled: list[str] = Field(default_factory=list)
    restarted: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


@dataclass
class Group:
    """One service's containers: replicas, a scaled-to-zero placeholder, leftovers."""

    replicas: list[Container] = field(default_factory=list)
    placeholder: Container | None = None
    leftovers: list[Container] = field(default_factory=list)

    @property
    def current(self) -> list[Container]:
        return [*self.replicas, *filter(None, [self.placeholder])]

    @property
    def all(self) -> list[Container]:
        return [*self.current, *self.leftovers]

    @property
    def definition(self) -> Service | None:
        for container in self.current:
            found = labels.decode_spec(container.labels.get(labels.SPEC))
            if found is not None:
                return found
        return None


def find_groups(client: docker.DockerClient, stack: str) -> dict[str, Group]:
    groups: dict[str, Group] = {}
    found = client.containers.list(all=True, filters=labels.project_filter(stack))
    for container in sorted(found, key=lambda c: labels.number_of(c.labels)):
        if container.labels.get(labels.ONEOFF) == "True":
            continue  # `docker compose run` containers are not replicas
        group = groups.setdefault(container.labels.get(labels.SERVICE, "?"), Group())
        if labels.ASIDE_MARKER in container.name:
            group.leftovers.append(container)
        elif container.labels.get(labels.PLACEHOLDER) == "true":
            group.placeholder = container
        else:
            group.replicas.append(container)
    return groups


@dataclass
class ServicePlan:
    service: Service
    action: ServiceAction
    detail: str
    group: Group


@dataclass
class Plan:
    networks: list[str]
    volumes: list[str]
    services: list[ServicePlan]
    deleted: dict[str, Group]
    stale_networks: list[Any]
    leftovers: list[Container]

    def changes(self, stack: Stack) -> list[PlanChange]:
        changes = [
            PlanChange(action="create", resource=f"network {labels.network_name(stack, key)}")
            for key in self.networks
        ]
        changes += [
            PlanChange(action="create", resource=f"volume {labels.volume_name(stack, key)}")
            for key in self.volumes
        ]
        changes += [
            PlanChange(action=item.action, resource=item.service.name, detail=item.detail)
            for item in self.services
        ]
        changes += [
            PlanChange(action="delete", resource=name, detail="no longer in the stack")
            for name in sorted(self.deleted)
        ]
        changes += [
            PlanChange(action="delete", resource=f"network {n.name}", detail="no longer used")
            for n in self.stale_networks
        ]
        return changes


def plan_stack(client: docker.DockerClient, stack: Stack) -> Plan:
    """What a deploy of ``stack`` would do on this engine; reads only."""
    groups = find_groups(client, stack.name)
    used = list(dict.fromkeys(k for s in stack.services.values() for k in spec.service_networks(s)))
    networks: list[str] = []
    for key in used:
        name = labels.network_name(stack, key)
        if any(n.name == name for n in client.networks.list(names=[name])):
            continue  # the names filter matches substrings: compare exactly
        if (declared := stack.networks.get(key)) is not None and declared.external:
            raise OrchestratorError(
                f"external network {name} of stack {stack.name} does not exist",
                hint="create it on the engine first, or drop external: true",
            )
        networks.append(key)
    volumes: list[str] = []
    for key, volume in stack.volumes.items():
        try:
            client.volumes.get(labels.volume_name(stack, key))
        except DockerNotFound:
            if volume.external:
                raise OrchestratorError(
                    f"external volume {labels.volume_name(stack, key)} of stack {stack.name} "
                    "does not exist",
                    hint="create it on the engine first, or drop external: true",
                ) from None
            volumes.append(key)
    services: list[ServicePlan] = []
    changing: set[str] = set()
    recreated: set[str] = set()
    for name in (n for layer in dependency_order(stack) for n in layer):
        item = _plan_service(client, stack, stack.services[name], groups.get(name, Group()))
        flags = item.service.dependency_flags
        restart_for = sorted(d for d in changing if d in flags and flags[d].restart)
        if item.action == "noop" and restart_for:
            item.action, item.detail = "restart", f"restart: {', '.join(restart_for)} changes"
        owners = sorted(_namespace_owners(item.service) & recreated)
        if owners and item.action != "create":
            # Its network/ipc/pid namespace belongs to a container that is being replaced.
            item.action, item.detail = "recreate", f"shares the namespace of {', '.join(owners)}"
        if item.action in ("create", "recreate"):
            recreated.add(name)
        if item.action != "noop":
            changing.add(name)
        services.append(item)
    project_networks = client.networks.list(filters=labels.project_filter(stack.name))
    wanted = {labels.network_name(stack, k) for k in used}
    return Plan(
        networks=networks,
        volumes=volumes,
        services=services,
        deleted={n: g for n, g in groups.items() if n not in stack.services and g.all},
        stale_networks=[n for n in project_networks if n.name not in wanted],
        leftovers=[c for n, g in groups.items() if n in stack.services for c in g.leftovers],
    )


def _plan_service(
    client: docker.DockerClient, stack: Stack, service: Service, group: Group
) -> ServicePlan:
    wanted = spec.replicas(service)
    note = ""
    try:
        client.images.get(service.image or "")
    except ImageNotFound:
        note = "; the image will be pulled"
    if not group.current:
        return ServicePlan(service, "create", f"{wanted} x {service.image}{note}", group)
    if not all(labels.is_current(c.labels, service) for c in group.current):
        fields = labels.changed_fields(group.definition, service)
        detail = f"changed: {', '.join(fields)}" if fields else "configuration changed"
        return ServicePlan(service, "recreate", detail + note, group)
    have = len(group.replicas)
    if group.placeholder is not None or have != wanted:
        return ServicePlan(service, "scale", f"{have} -> {wanted} replicas", group)
    stopped = [c for c in group.replicas if needs_start(stack, service, c)]
    if stopped:
        names = ", ".join(f"{c.name} ({c.status})" for c in stopped)
        return ServicePlan(service, "restart", f"start {names}", group)
    return ServicePlan(service, "noop", "up to date", group)


def _namespace_owners(service: Service) -> set[str]:
    modes = (service.network_mode, service.ipc, service.pid)
    return {m.removeprefix("service:") for m in modes if m and m.startswith("service:")}


def needs_start(stack: Stack, service: Service, container: Container) -> bool:
    """A stopped replica is started again, except a job that already completed."""
    state = container.attrs.get("State", {})
    if state.get("Running") or state.get("Restarting"):
        return False
    completed = state.get("Status") == "exited" and state.get("ExitCode") == 0
    awaited_as_job = any(
        other.depends_on.get(service.name) == "service_completed_successfully"
        for other in stack.services.values()
    )
    return not (completed and awaited_as_job)


@dataclass
class Journal:
    """What one run changed, in order, so that a failure can be undone."""

    created: list[Container] = field(default_factory=list)
    replaced: list[tuple[Container, str, bool]] = field(default_factory=list)
    started: list[Container] = field(default_factory=list)
    retired: list[Container] = field(default_factory=list)
    networks: list[Any] = field(default_factory=list)
    volumes: list[Any] = field(default_factory=list)

    def undo(self) -> str:
        problems: list[str] = []

        def attempt(what: str, step: Callable[[], object]) -> None:
            try:
                step()
            except (DockerException, RequestException) as exc:
                problems.append(f"{what}: {exc}")

        for container in reversed(self.created):
            attempt(f"remove {container.name}", partial(container.remove, force=True))
        for old, original, was_running in reversed(self.replaced):
            attempt(f"rename {old.name} back", partial(old.rename, original))
            if was_running:
                attempt(f"start {original}", old.start)
        for container in self.started:
            attempt(f"stop {container.name}", partial(container.stop, timeout=grace(container)))
        for resource in [*self.networks, *self.volumes]:
            attempt(f"remove {resource.name}", resource.remove)
        summary = (
            f"removed {len(self.created)} new container(s), restored {len(self.replaced)} "
            f"previous one(s), removed {len(self.networks)} new network(s) and "
            f"{len(self.volumes)} new volume(s)"
        )
        return summary + (f"; could not undo: {'; '.join(problems)}" if problems else "")


class Deployment:
    """One converge run on the engine, journaled so that a failure can be undone."""

    def __init__(self, client: docker.DockerClient, stack: Stack, *, health_timeout: float):
        self.client = client
        self.stack = stack
        self.health_timeout = health_timeout
        self.journal = Journal()
        self.outcome = DockerDeployOutcome(stack=stack.name)
        self.step = "preparing"

    def run(self) -> DockerDeployOutcome:
        plan = plan_stack(self.client, self.stack)
        self.attempt(f"deploy of stack {self.stack.name}", lambda: self._apply(plan))
        try:
            self.finish()
            for container in plan.leftovers:
                container.remove(force=True)
            for network in plan.stale_networks:
                network.remove()
        except APIError as exc:
            raise OrchestratorError(
                f"stack {self.stack.name} is deployed, but removing what it replaced failed: "
                f"{explain(exc)}",
                hint="deploy again to finish the cleanup, or remove the leftovers by hand",
            ) from exc
        return self.outcome

    def attempt(self, what: str, work: Callable[[], None]) -> None:
        """Run ``work``; on any failure undo the journal and say what was undone."""
        try:
            work()
        except (WindFlowError, DockerException, RequestException) as exc:
            undone = self.journal.undo()
            reason = exc.message if isinstance(exc, WindFlowError) else explain(exc)
            message = f"{what} failed at {self.step}: {reason}. Rolled back: {undone}"
            hint = "nothing of this attempt is left running and the previous state is back"
            # APIError is also a RequestException: the engine answered, it was not lost.
            lost = isinstance(exc, TargetUnreachable | DockerException | RequestException)
            if lost and not isinstance(exc, APIError):
                raise TargetUnreachable(message, hint=hint) from exc
            cause_hint = exc.hint if isinstance(exc, WindFlowError) else None
            raise OrchestratorError(message, hint=cause_hint or f"{hint}; fix the cause") from exc
        except BaseException:
            self.journal.undo()
            raise

    def finish(self) -> None:
        """After success: drop what was replaced or scaled away."""
        stop_all([c for c in self.journal.retired if c.status == "running"])
        for container in [*(old for old, _, _ in self.journal.replaced), *self.journal.retired]:
            container.remove(force=True)

    def _apply(self, plan: Plan) -> None:
        self._pull_images(plan)
        for name, group in sorted(plan.deleted.items()):
            self.step = f"service {name}"
            for container in group.all:
                self.set_aside(container)
            self.outcome.removed.append(name)
        for key in plan.networks:
            self.step = f"network {key}"
            created = self.client.networks.create(**spec.network_create_kwargs(self.stack, key))
            self.journal.networks.append(created)
        for key in plan.volumes:
            self.step = f"volume {key}"
            volume = self.client.volumes.create(**spec.volume_create_kwargs(self.stack, key))
            self.journal.volumes.append(volume)
        for item in plan.services:
            self.step = f"service {item.service.name}"
            self._converge(item)

    def _pull_images(self, plan: Plan) -> None:
        done: set[str] = set()
        for item in plan.services:
            image, policy = item.service.image or "", spec.pull_policy(item.service)
            if item.action in ("noop", "restart") or image in done:
                continue
            self.step = f"service {item.service.name}"
            done.add(image)
            if policy != "always":
                try:
                    self.client.images.get(image)
                    continue
                except ImageNotFound:
                    if policy == "never":
                        raise OrchestratorError(
                            f"image {image} of service {item.service.name} is not on the engine "
                            "and pull_policy is never",
                            hint="load the image on the engine or change pull_policy",
                        ) from None
            try:
                self.client.images.pull(image)
            except DockerException as exc:
                raise OrchestratorError(
                    f"image {image} of service {item.service.name} is not on the engine and "
                    f"could not be pulled: {explain(exc)}",
                    hint="check the image name and tag, and the engine's registry access",
                ) from exc

    def _converge(self, item: ServicePlan) -> None:
        service, group = item.service, item.group
        if item.action == "noop":
            self.outcome.unchanged.append(service.name)
            return
        self._wait_for_dependencies(service)
        if item.action == "restart":
            for container in group.replicas:
                if needs_start(self.stack, service, container):
                    container.start()
                    self.journal.started.append(container)
                else:  # running, restarted because a dependency changed (restart: true)
                    container.restart(timeout=grace(container))
            self.outcome.restarted.append(service.name)
            return
        if item.action == "recreate":
            for container in group.current:
                self.set_aside(container)
            self.outcome.recreated.append(service.name)
            group = Group()
        elif item.action == "scale":
            self.outcome.scaled.append(service.name)
        else:
            self.outcome.created.append(service.name)
        self.rescale(group, spec.replicas(service), service)

    def rescale(self, group: Group, replicas: int, service: Service | None = None) -> None:
        """Bring one service's containers to ``replicas``; removals wait for success."""
        definition = service or group.definition
        assert definition is not None
        if replicas == 0:
            for container in group.replicas:
                self.set_aside(container)
            if group.placeholder is None:
                self.start_container(definition, 1, start=False)
            return
        if group.placeholder is not None:
            self.set_aside(group.placeholder)
        numbers = {labels.number_of(c.labels) for c in group.replicas}
        for number in range(1, replicas + 1):
            if number not in numbers:
                self.start_container(definition, number)
        self.journal.retired += [c for c in group.replicas if labels.number_of(c.labels) > replicas]

    def set_aside(self, container: Container) -> None:
        """Stop and rename a container so its replacement can take the name; undo restores."""
        container.reload()
        was_running = container.status in ("running", "restarting")
        if was_running:
            container.stop(timeout=grace(container))
        original = container.name
        container.rename(f"{original}{labels.ASIDE_MARKER}{uuid.uuid4().hex[:6]}")
        self.journal.replaced.append((container, original, was_running))

    def start_container(self, service: Service, number: int, *, start: bool = True) -> Container:
        kwargs = spec.create_kwargs(self.stack, service, number, placeholder=not start)
        api = self.client.api
        # The low-level call, because only it can expose ports without publishing them
        # (an empty port binding list makes this engine's port allocator misbehave).
        create = {k: v for k, v in kwargs.items() if k in RUN_CREATE_KWARGS}
        host = {k: v for k, v in kwargs.items() if k in RUN_HOST_CONFIG_KWARGS}
        host["port_bindings"] = kwargs.get("ports")
        host["binds"] = kwargs.get("volumes")
        unmapped = set(kwargs) - {*create, *host, "ports", "volumes"}
        if unmapped:  # a converter bug; never drop a setting silently
            raise TypeError(f"settings without an Engine API place: {sorted(unmapped)}")
        names = {k: labels.network_name(self.stack, k) for k in spec.service_networks(service)}
        keys = list(names)
        if keys:
            host["network_mode"] = names[keys[0]]
            endpoint = api.create_endpoint_config(**spec.endpoint_options(service, keys[0]))
            create["networking_config"] = api.create_networking_config({names[keys[0]]: endpoint})
        create["ports"] = spec.exposed_ports(service) or None
        create["host_config"] = api.create_host_config(**host)
        container = self.client.containers.get(api.create_container(**create)["Id"])
        self.journal.created.append(container)
        for key in keys[1:]:
            self.client.networks.get(names[key]).connect(
                container, **spec.endpoint_options(service, key)
            )
        if start:
            container.start()
        return container

    def _wait_for_dependencies(self, service: Service) -> None:
        for dependency, condition in service.depends_on.items():
            flags = service.dependency_flags.get(dependency)
            try:
                group = find_groups(self.client, self.stack.name).get(dependency, Group())
                if not group.replicas:
                    raise OrchestratorError(
                        f"service {service.name} depends on {dependency}, which has no container",
                        hint=f"deploy {dependency} (or scale it above 0) first",
                    )
                for container in group.replicas:
                    self._wait(service.name, self.stack.services[dependency], container, condition)
            except OrchestratorError as exc:
                if flags is None or flags.required:
                    raise
                self.outcome.warnings.append(
                    f"{service.name} started without its optional dependency {dependency}: "
                    f"{exc.message}"
                )

    def _budget(self, dependency: Service, condition: str) -> float:
        check = dependency.healthcheck
        if condition == "service_started":
            return min(self.health_timeout, 30.0)
        if condition != "service_healthy" or check is None:
            return self.health_timeout
        interval = check.interval or DEFAULT_INTERVAL
        probe = check.timeout or DEFAULT_TIMEOUT
        retries = check.retries or DEFAULT_RETRIES
        derived = (check.start_period or 0) + (interval + probe) * (retries + 1) + 5
        return min(self.health_timeout, derived)

    def _wait(self, waiter: str, dependency: Service, container: Container, condition: str) -> None:
        name = dependency.name
        budget = self._budget(dependency, condition)
        deadline = time.monotonic() + budget
        while True:
            container.reload()
            state = container.attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            running = bool(state.get("Running"))
            exited = not running and state.get("Status") in ("exited", "dead")
            code = state.get("ExitCode")
            if condition == "service_started" and (running or exited):
                return
            if condition == "service_completed_successfully" and exited:
                if code == 0:
                    return
                raise OrchestratorError(
                    f"service {name} (awaited by {waiter}) did not complete successfully: exit "
                    f"code {code}; last log lines: {last_logs(container)}",
                    hint=f"fix {name} so that it exits with 0",
                )
            if condition == "service_healthy":
                if health == "healthy":
                    return
                if health is None:
                    raise OrchestratorError(
                        f"service {name} has no healthcheck, but {waiter} waits for it to be "
                        "healthy",
                        hint=f"add a healthcheck to {name} or use condition: service_started",
                    )
                if health == "unhealthy":
                    raise OrchestratorError(
                        f"service {name} became unhealthy, so {waiter} was not started; last "
                        f"health probe: {last_probe(state)}",
                        hint=f"fix {name} or its healthcheck (see its logs)",
                    )
                if exited:
                    raise OrchestratorError(
                        f"service {name} exited with code {code} before becoming healthy; last "
                        f"log lines: {last_logs(container)}",
                        hint=f"look at the logs of {name}",
                    )
            if time.monotonic() > deadline:
                raise OrchestratorError(
                    f"service {name} did not become {condition.removeprefix('service_')} within "
                    f"{budget:.0f} s, so {waiter} was not started; last health probe: "
                    f"{last_probe(state)}",
                    hint=f"look at the logs of {name}; if it is just slow, give its "
                    "healthcheck more retries or a start_period",
                )
            time.sleep(POLL_SECONDS)


def grace(container: Container) -> int:
    definition = labels.decode_spec(container.labels.get(labels.SPEC))
    seconds = definition.stop_grace_period if definition else None
    return int(seconds) if seconds is not None else 10


def stop_all(containers: list[Container]) -> None:
    """Stop in parallel: each may take its whole grace period."""
    threads = [
        threading.Thread(target=c.stop, kwargs={"timeout": grace(c)}, daemon=True)
        for c in containers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def explain(exc: BaseException) -> str:
    if isinstance(exc, APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)


def last_probe(state: dict[str, Any]) -> str:
    log = (state.get("Health") or {}).get("Log") or []
    if not log:
        return "no probe has run yet"
    last = log[-1]
    output = " ".join(str(last.get("Output", "")).split())[:300]
    return f"exit {last.get('ExitCode')}: {output or '(no output)'}"


def last_logs(container: Container) -> str:
    try:
        text = container.logs(tail=5).decode(errors="replace").strip()
    except DockerException as exc:
        return f"(logs unavailable: {exc})"
    return " | ".join(text.splitlines())[-500:] or "(none)"
