"""The effective configuration a tool call would apply, for the policy engine to judge.

It is read from the call's arguments with the same functions the tools' planners and
executors use (``load_stack`` for compose files, ``render_for`` for templates,
``parse_manifests`` for Kubernetes), so what is judged is exactly what would run. Tools
are recognised by the shape of their arguments, not by name, so a new deploy tool with a
``compose`` or ``manifests`` argument is covered without being listed here. The one
exception is ``rollback_stack``, whose configuration comes from the deployment history:
it is the revision before the current one, read as the tool reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tools.adapters.kubernetes_manifests import parse_manifests
from tools.base import ToolContext
from tools.migration import MigrateInput, migrated_config
from tools.stack import Service, Stack, load_stack
from tools.template_tools import DeployTemplateInput, render_for

POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job"}
REPLICATED_KINDS = {"Deployment", "StatefulSet", "ReplicaSet"}


@dataclass(frozen=True)
class Container:
    """One container (or compose service) as far as policies care."""

    where: str  # "service web", "Deployment/api container app"
    image: str | None
    privileged: bool = False
    capabilities: tuple[str, ...] = ()
    host_mounts: tuple[str, ...] = ()
    host_namespaces: tuple[str, ...] = ()  # "network", "pid", "ipc"


@dataclass
class EffectiveConfig:
    containers: list[Container] = field(default_factory=list)
    replicas: list[tuple[str, int]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.containers and not self.replicas


def normalize_capability(name: str) -> str:
    upper = name.strip().upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def _service(service: Service) -> Container:
    mounts = [f"{v.source or '?'} -> {v.target}" for v in service.volumes if v.type == "bind"] + [
        f"device {d}" for d in service.devices
    ]
    namespaces = [
        name
        for name, mode in (
            ("network", service.network_mode),
            ("pid", service.pid),
            ("ipc", service.ipc),
        )
        if mode == "host"
    ]
    return Container(
        where=f"service {service.name}",
        image=service.image,
        privileged=service.privileged,
        capabilities=tuple(normalize_capability(c) for c in service.cap_add),
        host_mounts=tuple(mounts),
        host_namespaces=tuple(namespaces),
    )


def of_stack(stack: Stack) -> EffectiveConfig:
    config = EffectiveConfig()
    for service in stack.services.values():
        config.containers.append(_service(service))
        if service.deploy.replicas is not None:
            config.replicas.append((f"service {service.name}", service.deploy.replicas))
    return config


def _pod_spec(document: dict[str, Any]) -> dict[str, Any] | None:
    kind = document.get("kind")
    spec = document.get("spec") if isinstance(document.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif kind not in POD_TEMPLATE_KINDS:
        return None
    template = spec.get("template") if isinstance(spec, dict) else None
    pod = template.get("spec") if isinstance(template, dict) else None
    return pod if isinstance(pod, dict) else {}


def _containers_of(owner: str, pod: dict[str, Any]) -> list[Container]:
    namespaces = tuple(
        name
        for name, key in (("network", "hostNetwork"), ("pid", "hostPID"), ("ipc", "hostIPC"))
        if pod.get(key) is True
    )
    host_paths = tuple(
        f"hostPath {v['hostPath'].get('path', '?')} (volume {v.get('name', '?')})"
        for v in pod.get("volumes") or []
        if isinstance(v, dict) and isinstance(v.get("hostPath"), dict)
    )
    found = []
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod.get(group) or []:
            if not isinstance(container, dict):
                continue
            security = container.get("securityContext") or {}
            capabilities = (security.get("capabilities") or {}).get("add") or []
            found.append(
                Container(
                    where=f"{owner} container {container.get('name', '?')}",
                    image=container.get("image"),
                    privileged=security.get("privileged") is True,
                    capabilities=tuple(normalize_capability(str(c)) for c in capabilities),
                    host_mounts=host_paths,
                    host_namespaces=namespaces,
                )
            )
    return found


def of_manifests(manifests: str) -> EffectiveConfig:
    config = EffectiveConfig()
    for document in parse_manifests(manifests):
        owner = f"{document.get('kind')}/{(document.get('metadata') or {}).get('name', '?')}"
        pod = _pod_spec(document)
        if pod is not None:
            config.containers.extend(_containers_of(owner, pod))
        if document.get("kind") in REPLICATED_KINDS:
            replicas = (document.get("spec") or {}).get("replicas", 1)
            if isinstance(replicas, int):
                config.replicas.append((owner, replicas))
    return config


async def _rollback_config(ctx: ToolContext, stack: str) -> EffectiveConfig:
    """The revision a rollback would redeploy (the one before the newest succeeded one)."""
    if ctx.deployments is None or ctx.target is None:
        return EffectiveConfig()
    history, org_id, target_id = ctx.deployments, ctx.caller.org_id, ctx.target.id
    current = await history.previous(org_id=org_id, target_id=target_id, stack_name=stack)
    if current is None:
        return EffectiveConfig()
    previous = await history.previous(
        org_id=org_id, target_id=target_id, stack_name=stack, before_revision=current.revision
    )
    if previous is None:
        return EffectiveConfig()
    return of_stack(load_stack(previous.rendered_config, name=stack, env=previous.env))


async def effective_config(
    ctx: ToolContext, args: BaseModel, tool_name: str | None = None
) -> EffectiveConfig:
    """What this call would run: containers (images, privileges, mounts) and replicas."""
    values = args.model_dump()
    if tool_name == "rollback_stack" and isinstance(values.get("stack"), str):
        return await _rollback_config(ctx, values["stack"])
    if isinstance(values.get("manifests"), str):
        return of_manifests(values["manifests"])
    if isinstance(values.get("compose"), str) and isinstance(values.get("stack"), str):
        stack = load_stack(
            values["compose"],
            name=values["stack"],
            file=f"{values['stack']}/compose",
            env=values.get("env") or {},
        )
        return of_stack(stack)
    if isinstance(args, MigrateInput):
        migrated = await migrated_config(ctx, args)
        return of_manifests(migrated) if isinstance(migrated, str) else of_stack(migrated)
    if isinstance(args, DeployTemplateInput):
        return of_stack(render_for(ctx, args).stack)
    replicas = values.get("replicas")
    if isinstance(replicas, int):
        name = values.get("service") or values.get("deployment") or "?"
        return EffectiveConfig(replicas=[(f"{values.get('stack', '?')}/{name}", replicas)])
    return EffectiveConfig()
