"""From a compose ``Stack`` to Docker Swarm API objects, as ``docker stack deploy`` builds them.

Names and labels follow the stack CLI (``<stack>_<service>``, ``com.docker.stack.namespace``),
so ``docker stack ls/ps`` and dashboards recognise WindFlow's stacks. Specs are plain API
dicts rather than SDK helper objects: the SDK helpers fill in defaults of their own (an
``UpdateConfig`` with ``failure_action='continue'``), and an update must send exactly the
spec we mean. Every setting is mapped or reported by :func:`unsupported`; nothing is dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tools.adapters.docker_labels import MANAGED, SPEC, encode_spec, network_name, volume_name
from tools.stack import FileSpec, Service, Stack, VolumeMount, config_hash

NAMESPACE = "com.docker.stack.namespace"
STACK_IMAGE = "com.docker.stack.image"
CONFIG_HASH = "dev.windflow.config-hash"
SERVICE_NAME = "com.docker.swarm.service.name"

FileKind = Literal["config", "secret"]
NETWORK_EXTRAS = {"driver_opts", "enable_ipv6"}
VOLUME_EXTRAS = {"driver_opts"}
RESTART_CONDITIONS = {"none", "on-failure", "any"}
FAILURE_ACTIONS = {"continue", "pause", "rollback"}


def _nanos(seconds: float | None) -> int | None:
    return int(seconds * 1_000_000_000) if seconds is not None else None


def _strings(value: Any) -> list[str]:
    return [str(value)] if isinstance(value, str | int) else [str(v) for v in value]


def _pairs(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return dict(str(item).split("=", 1) for item in value)


# Compose keys the stack model keeps in ``extras``: where they go in the ContainerSpec.
CONTAINER_EXTRAS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "init": ("Init", bool),
    "stop_signal": ("StopSignal", str),
    "tty": ("TTY", bool),
    "stdin_open": ("OpenStdin", bool),
    "isolation": ("Isolation", str),
    "group_add": ("Groups", _strings),
    "sysctls": ("Sysctls", _pairs),
}
DNS_EXTRAS = {"dns": "Nameservers", "dns_search": "Search", "dns_opt": "Options"}
# Read elsewhere: ``scale`` is the legacy spelling of deploy.replicas.
HANDLED_EXTRAS = {"scale"}


def service_name(stack: str, service: str) -> str:
    return f"{stack}_{service}"


def replicas(service: Service) -> int:
    if service.deploy.replicas is not None:
        return service.deploy.replicas
    return int(service.extras.get("scale", 1))


def is_global(service: Service) -> bool:
    return service.deploy.mode == "global"


def service_networks(service: Service) -> dict[str, list[str]]:
    return service.networks or {"default": []}


def networks_used(stack: Stack) -> list[str]:
    used: list[str] = []
    for service in stack.services.values():
        for key in service_networks(service):
            if key not in used:
                used.append(key)
    return used


def stack_labels(stack: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**(extra or {}), NAMESPACE: stack, MANAGED: "true"}


# --- configs and secrets ------------------------------------------------------------


@dataclass(frozen=True)
class FileObject:
    """A config or secret as it must exist on the swarm.

    Swarm configs and secrets are immutable, so the object name carries a digest of the
    content: changed content is a new object, and the services using it are updated to
    it, while the previous object stays for the engine's native rollback.
    """

    kind: FileKind
    key: str
    name: str
    data: bytes | None  # None for external objects, which must already exist
    labels: dict[str, str]
    fixed_name: bool


def file_objects(
    stack: Stack,
    kind: FileKind,
    *,
    base_dir: Path | None,
    variables: Mapping[str, str],
) -> dict[str, FileObject]:
    """Resolve every top-level config or secret; problems were reported by unsupported()."""
    specs = stack.configs if kind == "config" else stack.secrets
    found: dict[str, FileObject] = {}
    for key, spec in specs.items():
        if spec.external:
            found[key] = FileObject(kind, key, spec.name or key, None, {}, True)
            continue
        data = _file_data(spec, base_dir, variables)
        if data is None:
            continue
        digest = hashlib.sha256(data).hexdigest()[:12]
        name = spec.name or f"{stack.name}_{key}-{digest}"
        labels = stack_labels(stack.name, spec.labels)
        found[key] = FileObject(kind, key, name, data, labels, spec.name is not None)
    return found


def _file_data(spec: FileSpec, base_dir: Path | None, variables: Mapping[str, str]) -> bytes | None:
    if spec.content is not None:
        return spec.content.encode()
    if spec.environment is not None:
        value = variables.get(spec.environment)
        return value.encode() if value is not None else None
    if spec.file is not None and base_dir is not None:
        path = _inside(base_dir, spec.file)
        return path.read_bytes() if path is not None and path.is_file() else None
    return None


def _inside(base_dir: Path, relative: str) -> Path | None:
    root = base_dir.resolve()
    path = (root / Path(relative).expanduser()).resolve()
    # Compose text may come from API users: it must not read files of the server.
    return path if path.is_relative_to(root) else None


def _file_problems(
    stack: Stack, kind: FileKind, base_dir: Path | None, variables: Mapping[str, str]
) -> list[str]:
    problems: list[str] = []
    specs = stack.configs if kind == "config" else stack.secrets
    for key, spec in specs.items():
        where = f"{kind} {key}"
        for extra in sorted(k for k in spec.extras if not k.startswith("x-")):
            problems.append(f"{where}: '{extra}' is not supported on a Swarm target")
        if spec.external:
            continue
        if spec.environment is not None and spec.environment not in variables:
            problems.append(
                f"{where}: environment variable {spec.environment!r} was not given to WindFlow"
            )
        if spec.file is not None and spec.content is None and spec.environment is None:
            if base_dir is None:
                problems.append(f"{where}: file: needs the stack's directory; use content:")
            else:
                path = _inside(base_dir, spec.file)
                if path is None:
                    problems.append(f"{where}: file {spec.file!r} is outside the stack directory")
                elif not path.is_file():
                    problems.append(f"{where}: file {spec.file!r} does not exist")
    return problems


# --- what cannot be expressed ---------------------------------------------------------


def _mount_problems(stack: Stack, name: str, mount: VolumeMount) -> list[str]:
    problems: list[str] = []
    where = f"{name}: volume {mount.target}"
    if mount.type == "bind" and not (mount.source or "").startswith("/"):
        problems.append(f"{where}: a bind source must be an absolute path present on every node")
    if mount.type == "volume" and mount.source and mount.source not in stack.volumes:
        problems.append(f"{where}: volume {mount.source!r} is not declared under volumes:")
    if mount.bind is not None and (mount.bind.selinux or mount.bind.recursive):
        problems.append(f"{where}: bind selinux/recursive options are not supported by Swarm")
    if mount.volume is not None and mount.volume.subpath:
        problems.append(f"{where}: volume subpath needs a newer engine API than WindFlow uses")
    return problems


def _service_problems(stack: Stack, service: Service) -> list[str]:
    """Settings Swarm cannot honour. Accepted without a Swarm field, on purpose: ``expose``
    (every port is reachable on the service's networks), a bind's ``create_host_path``
    (Swarm never creates host paths; the task error says so) and ``depends_on`` with
    service_started/service_healthy (the deploy waits for each layer to run, healthy)."""
    name = service.name
    problems: list[str] = []
    if service.image is None:
        problems.append(f"{name}: no image (Swarm cannot build; push an image and name it)")
    elif service.build is not None:
        problems.append(f"{name}: build: is not supported; remove it and deploy the image")
    unsupported_fields: dict[str, object] = {
        "profiles": service.profiles,
        "privileged": service.privileged,
        "security_opt": service.security_opt,
        "network_mode": service.network_mode,
        "pid": service.pid,
        "ipc": service.ipc,
        "devices": service.devices,
        "deploy.resources.reservations.devices": service.deploy.reservations.devices,
        "deploy.resources.*.generic_resources": service.deploy.limits.generic_resources
        or service.deploy.reservations.generic_resources,
        "deploy.resources.reservations.pids": service.deploy.reservations.pids,
        "deploy.endpoint_mode other than vip/dnsrr": service.deploy.endpoint_mode
        not in (None, "vip", "dnsrr"),
        "deploy.mode other than replicated/global": service.deploy.mode
        not in (None, "replicated", "global"),
        "healthcheck.start_interval": service.healthcheck and service.healthcheck.start_interval,
        "networks: options other than aliases": service.network_options,
        "depends_on restart: true": any(f.restart for f in service.dependency_flags.values()),
        "depends_on condition service_completed_successfully": "service_completed_successfully"
        in service.depends_on.values(),
    }
    for key, value in unsupported_fields.items():
        if value:
            problems.append(f"{name}: {key} is not supported by Swarm services")
    known = set(CONTAINER_EXTRAS) | set(DNS_EXTRAS) | HANDLED_EXTRAS
    for key in sorted(k for k in service.extras if k not in known and not k.startswith("x-")):
        problems.append(f"{name}: '{key}' is not supported on a Swarm target")
    for port in service.ports:
        if port.host_ip:
            problems.append(f"{name}: port {port.target}: Swarm cannot bind to a host IP")
        if port.app_protocol:
            problems.append(f"{name}: port {port.target}: app_protocol is not supported")
    for entry in service.tmpfs:
        if ":" in entry:
            problems.append(f"{name}: tmpfs {entry!r}: use the long volume syntax for options")
    for mount in service.volumes:
        problems.extend(_mount_problems(stack, name, mount))
    for policy_name in ("update_config", "rollback_config"):
        policy = getattr(service.deploy, policy_name)
        if policy and policy.failure_action and policy.failure_action not in FAILURE_ACTIONS:
            problems.append(
                f"{name}: deploy.{policy_name}.failure_action {policy.failure_action!r} is unknown"
            )
    restart_policy = service.deploy.restart_policy
    if restart_policy and (restart_policy.condition or "any") not in RESTART_CONDITIONS:
        problems.append(f"{name}: deploy.restart_policy.condition must be none|on-failure|any")
    if set(service.logging or {}) - {"driver", "options"}:
        problems.append(f"{name}: logging supports only driver and options")
    return problems


def unsupported(
    stack: Stack, *, base_dir: Path | None = None, variables: Mapping[str, str] | None = None
) -> list[str]:
    """Everything in the stack a Swarm deploy cannot honour as written."""
    problems: list[str] = []
    for service in stack.services.values():
        problems.extend(_service_problems(stack, service))
    for key in sorted(k for k in stack.extras if k != "name"):
        problems.append(f"top-level '{key}' is not supported on a Swarm target")
    for key, network in stack.networks.items():
        if not network.external and network.driver not in (None, "overlay"):
            problems.append(
                f"network {key}: driver {network.driver!r}; Swarm services need overlay"
            )
        for extra in sorted(set(network.extras) - NETWORK_EXTRAS):
            if not extra.startswith("x-"):
                problems.append(f"network {key}: '{extra}' is not supported on a Swarm target")
    for key, volume in stack.volumes.items():
        for extra in sorted(set(volume.extras) - VOLUME_EXTRAS):
            if not extra.startswith("x-"):
                problems.append(f"volume {key}: '{extra}' is not supported on a Swarm target")
    for kind in ("config", "secret"):
        problems.extend(_file_problems(stack, kind, base_dir, variables or {}))
    return problems


# --- the service spec -----------------------------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    id: str
    name: str


def _file_refs(
    service: Service, kind: FileKind, objects: Mapping[str, ObjectRef]
) -> list[dict[str, Any]]:
    refs = service.configs if kind == "config" else service.secrets
    converted = []
    for ref in refs:
        found = objects[ref.source]
        # Compose's defaults: configs at /<source>, secrets at /run/secrets/<source>.
        target = ref.target or (f"/{ref.source}" if kind == "config" else ref.source)
        entry: dict[str, Any] = {
            "File": {
                "Name": target,
                "UID": ref.uid or "0",
                "GID": ref.gid or "0",
                "Mode": ref.mode if ref.mode is not None else 0o444,
            },
            f"{kind.capitalize()}ID": found.id,
            f"{kind.capitalize()}Name": found.name,
        }
        converted.append(entry)
    return converted


def _mount(stack: Stack, mount: VolumeMount) -> dict[str, Any]:
    spec: dict[str, Any] = {"Target": mount.target, "Type": mount.type, "ReadOnly": mount.read_only}
    if mount.consistency:
        spec["Consistency"] = mount.consistency
    if mount.type == "volume":
        options: dict[str, Any] = {}
        if mount.source:
            spec["Source"] = volume_name(stack, mount.source)
            declared = stack.volumes[mount.source]
            if not declared.external:
                options["Labels"] = stack_labels(stack.name, declared.labels)
            if declared.driver or "driver_opts" in declared.extras:
                options["DriverConfig"] = {
                    "Name": declared.driver or "local",
                    "Options": _pairs(declared.extras.get("driver_opts") or {}),
                }
        if mount.volume is not None:
            options["NoCopy"] = mount.volume.nocopy
            options.setdefault("Labels", {}).update(mount.volume.labels)
        if options:
            spec["VolumeOptions"] = options
    elif mount.type == "bind":
        spec["Source"] = mount.source
        if mount.bind is not None and mount.bind.propagation:
            spec["BindOptions"] = {"Propagation": mount.bind.propagation}
    elif mount.tmpfs is not None:
        spec["TmpfsOptions"] = {
            k: v
            for k, v in (("SizeBytes", mount.tmpfs.size), ("Mode", mount.tmpfs.mode))
            if v is not None
        }
    return spec


def _healthcheck(service: Service) -> dict[str, Any] | None:
    check = service.healthcheck
    if check is None:
        return None
    if check.disable:
        return {"Test": ["NONE"]}
    values = {
        "Test": check.test or None,
        "Interval": _nanos(check.interval),
        "Timeout": _nanos(check.timeout),
        "StartPeriod": _nanos(check.start_period),
        "Retries": check.retries,
    }
    return {k: v for k, v in values.items() if v is not None}


def _restart_policy(service: Service) -> dict[str, Any] | None:
    policy = service.deploy.restart_policy
    if policy is not None:
        values = {
            "Condition": policy.condition or "any",
            "Delay": _nanos(policy.delay),
            "MaxAttempts": policy.max_attempts,
            "Window": _nanos(policy.window),
        }
        return {k: v for k, v in values.items() if v is not None}
    if service.restart is None:
        return None
    # The stack CLI maps the single-host ``restart:`` when there is no restart_policy.
    name, _, attempts = service.restart.partition(":")
    conditions = {
        "no": "none",
        "always": "any",
        "unless-stopped": "any",
        "on-failure": "on-failure",
    }
    converted: dict[str, Any] = {"Condition": conditions.get(name, name)}
    if attempts:
        converted["MaxAttempts"] = int(attempts)
    return converted


def _update_policy(service: Service, which: str) -> dict[str, Any] | None:
    policy = getattr(service.deploy, which)
    if policy is None:
        return None
    values = {
        # The CLI's default, not the API's (0 = every task at once).
        "Parallelism": policy.parallelism if policy.parallelism is not None else 1,
        "Delay": _nanos(policy.delay),
        "FailureAction": policy.failure_action,
        "Monitor": _nanos(policy.monitor),
        "MaxFailureRatio": policy.max_failure_ratio,
        "Order": policy.order,
    }
    return {k: v for k, v in values.items() if v is not None}


def _resources(service: Service) -> dict[str, Any]:
    limits, reservations = service.deploy.limits, service.deploy.reservations
    wanted = {
        "Limits": {
            "NanoCPUs": int(limits.cpus * 1e9) if limits.cpus else None,
            "MemoryBytes": limits.memory,
            "Pids": limits.pids,
        },
        "Reservations": {
            "NanoCPUs": int(reservations.cpus * 1e9) if reservations.cpus else None,
            "MemoryBytes": reservations.memory,
        },
    }
    return {
        section: {k: v for k, v in values.items() if v is not None}
        for section, values in wanted.items()
        if any(v is not None for v in values.values())
    }


def _placement(service: Service) -> dict[str, Any]:
    deploy = service.deploy
    placement: dict[str, Any] = {}
    if deploy.placement_constraints:
        placement["Constraints"] = list(deploy.placement_constraints)
    if deploy.placement_preferences:
        placement["Preferences"] = [
            {"Spread": {"SpreadDescriptor": spread}} for spread in deploy.placement_preferences
        ]
    if deploy.max_replicas_per_node is not None:
        placement["MaxReplicas"] = deploy.max_replicas_per_node
    return placement


def _container_spec(
    stack: Stack, service: Service, objects: Mapping[tuple[FileKind, str], ObjectRef]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Image": service.image,
        # Swarm's Command is the image ENTRYPOINT and Args its CMD, as the stack CLI maps them.
        "Command": service.entrypoint,
        "Args": service.command,
        "Hostname": service.hostname,
        # A variable without a value is passed through from the deployer's shell in
        # compose; WindFlow has no shell, so it stays unset, as compose does for unset ones.
        "Env": [f"{k}={v}" for k, v in service.environment.items() if v is not None] or None,
        "Dir": service.working_dir,
        "User": service.user,
        "Labels": stack_labels(stack.name, service.labels),
        "Mounts": [_mount(stack, m) for m in service.volumes]
        + [{"Target": path, "Type": "tmpfs"} for path in service.tmpfs]
        or None,
        "StopGracePeriod": _nanos(service.stop_grace_period),
        "Healthcheck": _healthcheck(service),
        "Hosts": [
            f"{address} {host}"
            for host, _, address in (entry.partition(":") for entry in service.extra_hosts)
        ]
        or None,
        "ReadOnly": service.read_only or None,
        "CapabilityAdd": service.cap_add or None,
        "CapabilityDrop": service.cap_drop or None,
        "Ulimits": [
            {"Name": name, "Soft": value, "Hard": value}
            if isinstance(value, int)
            else {"Name": name, "Soft": value.get("soft"), "Hard": value.get("hard")}
            for name, value in service.ulimits.items()
        ]
        or None,
        "Configs": _file_refs(service, "config", _of_kind(objects, "config")) or None,
        "Secrets": _file_refs(service, "secret", _of_kind(objects, "secret")) or None,
    }
    for key, (field, convert) in CONTAINER_EXTRAS.items():
        if key in service.extras:
            spec[field] = convert(service.extras[key])
    dns = {
        field: _strings(service.extras[key])
        for key, field in DNS_EXTRAS.items()
        if key in service.extras
    }
    if dns:
        spec["DNSConfig"] = dns
    return {k: v for k, v in spec.items() if v is not None}


def _of_kind(
    objects: Mapping[tuple[FileKind, str], ObjectRef], kind: FileKind
) -> dict[str, ObjectRef]:
    return {key: ref for (k, key), ref in objects.items() if k == kind}


def service_spec(
    stack: Stack, service: Service, objects: Mapping[tuple[FileKind, str], ObjectRef]
) -> dict[str, Any]:
    """The complete ServiceSpec: create and update send exactly this, nothing merged in."""
    task: dict[str, Any] = {
        "ContainerSpec": _container_spec(stack, service, objects),
        "Networks": [
            # The stack CLI adds the short service name as an alias on every network.
            {"Target": network_name(stack, key), "Aliases": [service.name, *aliases]}
            for key, aliases in service_networks(service).items()
        ],
        "Resources": _resources(service) or None,
        "RestartPolicy": _restart_policy(service),
        "Placement": _placement(service) or None,
    }
    if service.logging:
        task["LogDriver"] = {
            "Name": service.logging.get("driver", "json-file"),
            "Options": {k: str(v) for k, v in (service.logging.get("options") or {}).items()},
        }
    ports = [
        {
            k: v
            for k, v in {
                "Protocol": port.protocol,
                "TargetPort": port.target,
                "PublishedPort": port.published,
                "PublishMode": port.mode or "ingress",
                "Name": port.name,
            }.items()
            if v is not None
        }
        for port in service.ports
    ]
    mode: dict[str, Any] = (
        {"Global": {}} if is_global(service) else {"Replicated": {"Replicas": replicas(service)}}
    )
    labels = {
        **service.deploy.labels,
        **stack_labels(stack.name),
        STACK_IMAGE: service.image or "",
        CONFIG_HASH: config_hash(service),
        SPEC: encode_spec(service),
    }
    return {
        "Name": service_name(stack.name, service.name),
        "Labels": labels,
        "TaskTemplate": {k: v for k, v in task.items() if v is not None},
        "Mode": mode,
        "UpdateConfig": _update_policy(service, "update_config"),
        "RollbackConfig": _update_policy(service, "rollback_config"),
        "EndpointSpec": {"Mode": service.deploy.endpoint_mode or "vip", "Ports": ports},
    }


def network_create_kwargs(stack: Stack, key: str) -> dict[str, Any]:
    declared = stack.networks.get(key)
    kwargs: dict[str, Any] = {
        "name": network_name(stack, key),
        "driver": "overlay",
        "scope": "swarm",
        # Attachable lets one-off containers (debugging, migrations) join the stack's network.
        "attachable": True,
        "labels": stack_labels(stack.name, declared.labels if declared else None),
    }
    if declared is not None:
        kwargs["internal"] = declared.internal
        if "driver_opts" in declared.extras:
            kwargs["options"] = _pairs(declared.extras["driver_opts"])
        if "enable_ipv6" in declared.extras:
            kwargs["enable_ipv6"] = bool(declared.extras["enable_ipv6"])
    return kwargs


def is_external_network(stack: Stack, key: str) -> bool:
    declared = stack.networks.get(key)
    return declared is not None and declared.external
