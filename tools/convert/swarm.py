"""Compose stack -> a Swarm stack file for ``docker stack deploy`` (compose file 3.9).

Built on the compose rendering of the stack (``to_compose_dict``), reduced to what the
stack CLI accepts and Swarm honours: ``restart`` and ``mem_limit``/``cpus`` move into
``deploy:``, ``depends_on`` becomes the 3.x list, configs and secrets given inline or
relative to the compose file are written next to the stack file, so the output folder
deploys as it is. Everything else Swarm ignores is reported in ``unmapped``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tools.convert.result import Conversion, Notes
from tools.convert.sources import file_content
from tools.convert.tree import DUMPER
from tools.stack import Service, Stack, to_compose_dict
from tools.stack.units import parse_bytes, parse_float

STACK_FILE = "docker-stack.yml"
# Service keys of compose file 3.9 that Swarm services honour.
SWARM_KEYS = frozenset(
    {
        "cap_add", "cap_drop", "command", "configs", "deploy", "dns", "dns_search",
        "entrypoint", "environment", "expose", "extra_hosts", "healthcheck", "hostname",
        "image", "init", "isolation", "labels", "logging", "networks", "ports", "read_only",
        "secrets", "stop_grace_period", "stop_signal", "sysctls", "tmpfs", "tty",
        "stdin_open", "ulimits", "user", "volumes", "working_dir", "depends_on",
    }
)  # fmt: skip
REASONS = {
    "build": "Swarm deploys images only: build and push the image, then set image:",
    "container_name": "Swarm names tasks itself (<stack>_<service>.<n>)",
    "links": "Swarm services reach each other by service name on shared networks",
    "network_mode": "Swarm services attach to networks, not to another container's stack",
    "pid": "Swarm services cannot share the host or another container's PID namespace",
    "ipc": "Swarm services cannot share an IPC namespace",
    "devices": "Swarm services cannot map host devices",
    "privileged": "Swarm services cannot run privileged",
    "security_opt": "Swarm services ignore security_opt",
    "profiles": "docker stack deploy has no profiles: every service is deployed",
}
RESTART = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


def to_swarm(stack: Stack, *, base_dir: Path | None = None) -> Conversion:
    notes = Notes()
    data = to_compose_dict(stack)
    files: dict[str, str] = {}
    for key in sorted(k for k in data if k not in ("services", "networks", "volumes")):
        if key in ("configs", "secrets") or key.startswith("x-"):
            continue
        if key != "name":
            notes.unmapped_field(None, key, "not part of a Swarm stack file")
        data.pop(key)
    for name, service in stack.services.items():
        data["services"][name] = _service(service, data["services"][name], notes)
    _networks(stack, data, notes)
    for kind in ("configs", "secrets"):
        _file_objects(stack, kind, data, files, base_dir, notes)
    document = {"version": "3.9", **data}
    files[STACK_FILE] = yaml.dump(document, Dumper=DUMPER, sort_keys=False, allow_unicode=True)
    return Conversion(
        stack=stack.name,
        target="swarm",
        files=dict(sorted(files.items())),
        warnings=notes.warnings,
        unmapped=notes.unmapped,
    )


def _service(service: Service, out: dict[str, Any], notes: Notes) -> dict[str, Any]:
    name = service.name
    deploy: dict[str, Any] = out.setdefault("deploy", {})
    if service.restart is not None:
        out.pop("restart")
        policy = deploy.setdefault("restart_policy", {})
        policy.setdefault("condition", RESTART.get(service.restart, "any"))
    limits = deploy.setdefault("resources", {}).setdefault("limits", {})
    if "mem_limit" in out:
        limits.setdefault("memory", str(parse_bytes(out.pop("mem_limit"))))
    if "cpus" in out:
        limits.setdefault("cpus", str(parse_float(out.pop("cpus"))))
    if "scale" in out:
        deploy.setdefault("replicas", int(out.pop("scale")))
    for scope in deploy["resources"].values():
        # The 3.9 format wants strings here ("0.5", "268435456").
        for key in ("cpus", "memory"):
            if key in scope:
                scope[key] = str(scope[key])
    if not limits:
        deploy["resources"].pop("limits")
    for scope in ("limits", "reservations"):
        resources = deploy.get("resources", {}).get(scope, {})
        for key in ("pids", "devices", "generic_resources"):
            if key in resources and not (scope == "reservations" and key == "generic_resources"):
                resources.pop(key)
                notes.unmapped_field(
                    name, f"deploy.resources.{scope}.{key}", "not in the compose file 3.9 format"
                )
    if not deploy.get("resources"):
        deploy.pop("resources", None)
    if not deploy:
        out.pop("deploy")
    if service.depends_on:
        out["depends_on"] = list(service.depends_on)
        notes.warn(
            f"{name}: docker stack deploy starts services in any order (depends_on is "
            "informative only); make the service retry until its dependencies answer"
        )
    check = out.get("healthcheck")
    if isinstance(check, dict) and check.pop("start_interval", None) is not None:
        notes.unmapped_field(name, "healthcheck.start_interval", "not in compose file 3.9")
    for kind in ("configs", "secrets"):
        for ref, model in zip(out.get(kind, []), getattr(service, kind), strict=True):
            if model.mode is not None:
                ref["mode"] = model.mode  # the 3.9 format wants a number (0o400 -> 256)
    mounts = [mount for mount in out.get("volumes", []) if _mount(name, mount, notes)]
    if "volumes" in out:
        out["volumes"] = mounts
        if not mounts:
            out.pop("volumes")
    for port in out.get("ports", []):
        for key in ("host_ip", "app_protocol", "name"):
            if port.pop(key, None) is not None:
                notes.unmapped_field(name, f"ports.{key}", "Swarm ports have no such setting")
    for key in sorted(k for k in list(out) if k not in SWARM_KEYS and not k.startswith("x-")):
        out.pop(key)
        notes.unmapped_field(name, key, REASONS.get(key, "not honoured by Swarm services"))
    return out


def _mount(service: str, mount: dict[str, Any], notes: Notes) -> bool:
    """Clean a mount for the 3.9 format; False when Swarm cannot have it (reported)."""
    bind = mount.get("bind")
    if isinstance(bind, dict):
        for key in ("create_host_path", "selinux", "recursive"):
            bind.pop(key, None)
        if not bind:
            mount.pop("bind")
    volume = mount.get("volume")
    if isinstance(volume, dict) and volume.pop("subpath", None) is not None:
        notes.unmapped_field(service, "volumes.volume.subpath", "not in compose file 3.9")
    if mount.get("type") == "bind" and not str(mount.get("source", "")).startswith("/"):
        notes.unmapped_field(
            service,
            f"volumes[{mount.get('target')}]",
            "a relative bind mount has no meaning on Swarm nodes: use an absolute path "
            "present on every node, a volume or a config",
        )
        return False
    return True


def _networks(stack: Stack, data: dict[str, Any], notes: Notes) -> None:
    for key, spec in (data.get("networks") or {}).items():
        declared = stack.networks[key]
        if declared.external:
            continue
        spec = spec or {}
        if declared.driver not in (None, "overlay"):
            notes.warn(f"network {key}: driver {declared.driver} replaced by overlay for Swarm")
        spec["driver"] = "overlay"
        # Attachable lets `docker run --network` join for debugging and one-off jobs,
        # which an internal network must not allow.
        if not declared.internal:
            spec["attachable"] = True
        if spec.pop("enable_ipv6", None) is not None:
            notes.unmapped_field(None, f"networks.{key}.enable_ipv6", "not in compose file 3.9")
        data["networks"][key] = spec


def _file_objects(
    stack: Stack,
    kind: str,
    data: dict[str, Any],
    files: dict[str, str],
    base_dir: Path | None,
    notes: Notes,
) -> None:
    specs = stack.configs if kind == "configs" else stack.secrets
    for key, spec in specs.items():
        entry: dict[str, Any] = {}
        if spec.external:
            entry["external"] = True
            if spec.name:
                entry["name"] = spec.name
        else:
            content, problem = file_content(spec, base_dir)
            if content is None:
                notes.unmapped_field(None, f"{kind}.{key}", problem or "no content")
                entry["file"] = f"./{kind}/{key}"
            else:
                files[f"{kind}/{key}"] = content
                entry["file"] = f"./{kind}/{key}"
            if spec.name:
                entry["name"] = spec.name
        if spec.labels:
            entry["labels"] = dict(spec.labels)
        data[kind][key] = entry
