"""Rendering a normalized ``Stack`` back to compose YAML.

The output is itself a valid compose file that loads back to an equal ``Stack``: list
entries are written in long syntax (one entry per port, so extensions find their index
again), durations and sizes in compose notation, and every ``$`` doubled, because the
values were interpolated once already and must not be expanded a second time.
"""

from __future__ import annotations

from typing import Any

import yaml

from tools.stack import extensions
from tools.stack.model import Deploy, FileRef, Healthcheck, Resources, Service, Stack
from tools.stack.units import format_duration, format_mode


def _duration(value: float | None) -> str | None:
    return None if value is None else format_duration(value)


def _compact(mapping: dict[str, Any], keep_empty: tuple[str, ...] = ()) -> dict[str, Any]:
    """Drop unset entries (None, empty lists and mappings) so the output stays readable."""
    return {
        k: v
        for k, v in mapping.items()
        if v is not None and ((v != [] and v != {}) or k in keep_empty)
    }


def _ref(ref: FileRef) -> dict[str, Any]:
    data = ref.model_dump(exclude_none=True)
    if ref.mode is not None:
        data["mode"] = format_mode(ref.mode)
    return data


def _device(device: str) -> dict[str, str]:
    parts = device.split(":")
    return dict(zip(("source", "target", "permissions"), parts, strict=False))


def _healthcheck(check: Healthcheck) -> dict[str, Any]:
    if check.disable:
        return {"disable": True}
    return _compact(
        {
            "test": check.test,
            "interval": _duration(check.interval),
            "timeout": _duration(check.timeout),
            "start_period": _duration(check.start_period),
            "start_interval": _duration(check.start_interval),
            "retries": check.retries,
        }
    )


def _resources(resources: Resources) -> dict[str, Any]:
    return _compact(
        {
            "cpus": resources.cpus,
            "memory": None if resources.memory is None else str(resources.memory),
            "pids": resources.pids,
            "devices": resources.devices,
            "generic_resources": resources.generic_resources,
        }
    )


def _deploy(deploy: Deploy) -> dict[str, Any]:
    policies: dict[str, Any] = {}
    for key in ("update_config", "rollback_config"):
        policy = getattr(deploy, key)
        if policy is not None:
            data = policy.model_dump(exclude_none=True)
            for timed in ("delay", "monitor"):
                if timed in data:
                    data[timed] = format_duration(data[timed])
            policies[key] = data
    if deploy.restart_policy is not None:
        data = deploy.restart_policy.model_dump(exclude_none=True)
        for timed in ("delay", "window"):
            if timed in data:
                data[timed] = format_duration(data[timed])
        policies["restart_policy"] = data
    placement = _compact(
        {
            "constraints": deploy.placement_constraints,
            "preferences": [{"spread": spread} for spread in deploy.placement_preferences],
            "max_replicas_per_node": deploy.max_replicas_per_node,
        }
    )
    resources = _compact(
        {"limits": _resources(deploy.limits), "reservations": _resources(deploy.reservations)}
    )
    return _compact(
        {
            "mode": deploy.mode,
            "replicas": deploy.replicas,
            "endpoint_mode": deploy.endpoint_mode,
            "resources": resources,
            **policies,
            "placement": placement,
            "labels": deploy.labels,
        }
    )


def _depends_on(service: Service) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for name, condition in service.depends_on.items():
        entry: dict[str, Any] = {"condition": condition}
        flags = service.dependency_flags.get(name)
        if flags is not None:
            entry |= flags.model_dump()
        rendered[name] = entry
    return rendered


def _service(service: Service) -> dict[str, Any]:
    build = None
    if service.build is not None:
        build = _compact(
            {"context": service.build.context, "dockerfile": service.build.dockerfile}
        ) | dict(service.build.options)
    networks = {
        name: _compact({"aliases": aliases, **service.network_options.get(name, {})}) or None
        for name, aliases in service.networks.items()
    }
    out = _compact(
        {
            "image": service.image,
            "build": build,
            "command": service.command,
            "entrypoint": service.entrypoint,
            "environment": service.environment,
            "ports": [port.model_dump(exclude_none=True) for port in service.ports],
            "expose": service.expose,
            "volumes": [mount.model_dump(exclude_none=True) for mount in service.volumes],
            "depends_on": _depends_on(service),
            "healthcheck": None
            if service.healthcheck is None
            else _healthcheck(service.healthcheck),
            "restart": service.restart,
            "deploy": _deploy(service.deploy),
            "labels": service.labels,
            "networks": networks,
            "user": service.user,
            "working_dir": service.working_dir,
            "read_only": service.read_only or None,
            "privileged": service.privileged or None,
            "cap_add": service.cap_add,
            "cap_drop": service.cap_drop,
            "security_opt": service.security_opt,
            "network_mode": service.network_mode,
            "pid": service.pid,
            "ipc": service.ipc,
            "devices": [_device(device) for device in service.devices],
            "tmpfs": service.tmpfs,
            "configs": [_ref(ref) for ref in service.configs],
            "secrets": [_ref(ref) for ref in service.secrets],
            "hostname": service.hostname,
            "extra_hosts": service.extra_hosts,
            "stop_grace_period": _duration(service.stop_grace_period),
            "logging": service.logging,
            "ulimits": service.ulimits,
            "profiles": service.profiles,
        },
        # An explicitly empty command ([]) overrides the image's; None keeps it.
        keep_empty=("command", "entrypoint"),
    )
    out |= service.extras
    extensions.apply(out, service.extensions)
    return out


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape(item) for item in value]
    return value


def to_compose_dict(stack: Stack) -> dict[str, Any]:
    """The stack as a compose mapping, ``$`` already escaped for re-interpolation."""
    data: dict[str, Any] = dict(stack.extras)
    data["services"] = {name: _service(service) for name, service in stack.services.items()}
    for key in ("networks", "volumes", "configs", "secrets"):
        entries = getattr(stack, key)
        if entries:
            data[key] = {}
            for name, spec in entries.items():
                dumped = spec.model_dump(exclude_none=True, exclude_defaults=True)
                dumped |= dumped.pop("extras", {})
                data[key][name] = dumped or None
    data |= stack.extensions
    return _escape(data)


def dump_compose(stack: Stack) -> str:
    """Compose YAML for ``stack``; ``load_stack(dump_compose(s), name=s.name) == s``."""
    return yaml.safe_dump(
        to_compose_dict(stack), sort_keys=False, default_flow_style=False, allow_unicode=True
    )
