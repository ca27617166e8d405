"""Rendering a ``Stack`` back to compose YAML, and the dependency order of its services."""

from __future__ import annotations

from typing import Any

import yaml

from tools.stack.errors import ComposeError
from tools.stack.model import FileRef, Service, Stack


def dependency_order(stack: Stack) -> list[list[str]]:
    """Services in layers: each layer depends only on earlier ones."""
    remaining = {name: set(svc.depends_on) for name, svc in stack.services.items()}
    layers: list[list[str]] = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps)
        if not ready:
            cycle = " -> ".join(sorted(remaining))
            raise ComposeError.at(
                f"depends_on forms a cycle among: {cycle}",
                path="services",
                hint="remove one of the dependencies in the cycle",
            )
        layers.append(ready)
        for name in ready:
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return layers


def _ref(ref: FileRef) -> Any:
    data = ref.model_dump(exclude_none=True)
    return ref.source if list(data) == ["source"] else data


def _service(service: Service) -> dict[str, Any]:
    out: dict[str, Any] = dict(service.extras)
    simple = (
        "image",
        "build",
        "command",
        "entrypoint",
        "restart",
        "user",
        "working_dir",
        "network_mode",
        "pid",
        "ipc",
        "hostname",
        "logging",
    )
    for key in simple:
        value = getattr(service, key)
        if value is not None:
            out[key] = value
    if service.environment:
        out["environment"] = dict(service.environment)
    if service.ports:
        out["ports"] = [p.short() for p in service.ports]
    if service.expose:
        out["expose"] = service.expose
    if service.volumes:
        out["volumes"] = [
            v.model_dump(exclude_none=True, exclude_defaults=False) for v in service.volumes
        ]
    if service.depends_on:
        out["depends_on"] = {n: {"condition": c} for n, c in service.depends_on.items()}
    if service.healthcheck is not None:
        check = service.healthcheck
        out["healthcheck"] = {
            k: (f"{v}s" if k in ("interval", "timeout", "start_period") else v)
            for k, v in check.model_dump(exclude_none=True).items()
            if not (k == "disable" and not v)
        }
    deploy = service.deploy.model_dump(exclude_none=True, exclude_defaults=True)
    if deploy:
        rendered: dict[str, Any] = {}
        for key in ("mode", "replicas"):
            if key in deploy:
                rendered[key] = deploy[key]
        resources = {
            kind: {k: (v if k == "cpus" else str(int(v))) for k, v in deploy[kind].items()}
            for kind in ("limits", "reservations")
            if deploy.get(kind)
        }
        if resources:
            rendered["resources"] = resources
        for key in ("update_config", "rollback_config", "restart_policy"):
            if key in deploy:
                rendered[key] = {
                    k: (f"{v}s" if k in ("delay", "monitor", "window") else v)
                    for k, v in deploy[key].items()
                }
        if deploy.get("placement_constraints"):
            rendered["placement"] = {"constraints": deploy["placement_constraints"]}
        if deploy.get("labels"):
            rendered["labels"] = deploy["labels"]
        out["deploy"] = rendered
    if service.labels:
        out["labels"] = dict(service.labels)
    if service.networks:
        out["networks"] = {n: ({"aliases": a} if a else None) for n, a in service.networks.items()}
    for key in ("read_only", "privileged"):
        if getattr(service, key):
            out[key] = True
    for key in (
        "cap_add",
        "cap_drop",
        "security_opt",
        "devices",
        "tmpfs",
        "extra_hosts",
        "profiles",
    ):
        if getattr(service, key):
            out[key] = list(getattr(service, key))
    if service.configs:
        out["configs"] = [_ref(r) for r in service.configs]
    if service.secrets:
        out["secrets"] = [_ref(r) for r in service.secrets]
    if service.stop_grace_period is not None:
        out["stop_grace_period"] = f"{service.stop_grace_period}s"
    if service.ulimits:
        out["ulimits"] = service.ulimits
    return out


def to_compose_dict(stack: Stack) -> dict[str, Any]:
    data: dict[str, Any] = {"services": {n: _service(s) for n, s in stack.services.items()}}
    for key in ("networks", "volumes", "configs", "secrets"):
        entries = getattr(stack, key)
        if entries:
            data[key] = {}
            for name, spec in entries.items():
                dumped = spec.model_dump(exclude_none=True, exclude_defaults=True)
                dumped.update(dumped.pop("extras", {}))
                data[key][name] = dumped or None
    data.update(stack.extensions)
    return data


def dump_compose(stack: Stack) -> str:
    return yaml.safe_dump(to_compose_dict(stack), sort_keys=False, default_flow_style=False)
