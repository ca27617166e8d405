"""From a stack ``Service`` to Docker Engine container, network and volume settings.

Every setting of the stack model is either mapped to the Engine API or reported by
:func:`unsupported`, so a deploy refuses up front instead of silently dropping it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from docker.types import IPAMConfig, IPAMPool, Mount, Ulimit

from tools.adapters.docker_labels import (
    RESOURCES,
    container_name,
    network_labels,
    network_name,
    service_labels,
    volume_labels,
    volume_name,
)
from tools.stack import NetworkSpec, Service, Stack, VolumeMount, VolumeSpec
from tools.stack.units import parse_bytes

RESTART_POLICIES = {"no", "always", "on-failure", "unless-stopped"}
PULL_POLICIES = {"always", "never", "missing", "if_not_present"}
NETWORK_EXTRAS = {"driver_opts", "enable_ipv6", "ipam"}
VOLUME_EXTRAS = {"driver_opts"}
ENDPOINT_OPTIONS = {"ipv4_address", "ipv6_address", "link_local_ips", "priority", "driver_opts"}
EXPOSE = re.compile(r"^\d+(-\d+)?(/(tcp|udp|sctp))?$")
# Top-level keys with no effect on the engine: the file's own project name.
STACK_EXTRAS = {"name"}


def _strings(value: Any) -> list[str]:
    return [str(value)] if isinstance(value, str | int) else [str(v) for v in value]


def _pairs(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return dict(str(item).split("=", 1) for item in value)


def _nanocpus(value: Any) -> int:
    return int(float(value) * 1_000_000_000)


# Compose keys the stack model keeps in ``extras``, and their Engine API equivalent.
EXTRA_SETTINGS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "stdin_open": ("stdin_open", bool),
    "tty": ("tty", bool),
    "init": ("init", bool),
    "platform": ("platform", str),
    "stop_signal": ("stop_signal", str),
    "dns": ("dns", _strings),
    "dns_search": ("dns_search", _strings),
    "dns_opt": ("dns_opt", _strings),
    "sysctls": ("sysctls", _pairs),
    "shm_size": ("shm_size", parse_bytes),
    "group_add": ("group_add", _strings),
    "domainname": ("domainname", str),
    "mac_address": ("mac_address", str),
    "pids_limit": ("pids_limit", int),
    "mem_limit": ("mem_limit", parse_bytes),
    "mem_reservation": ("mem_reservation", parse_bytes),
    "memswap_limit": ("memswap_limit", parse_bytes),
    "mem_swappiness": ("mem_swappiness", int),
    "oom_kill_disable": ("oom_kill_disable", bool),
    "oom_score_adj": ("oom_score_adj", int),
    "cpu_shares": ("cpu_shares", int),
    "cpus": ("nano_cpus", _nanocpus),
    "cpuset": ("cpuset_cpus", str),
    "userns_mode": ("userns_mode", str),
    "uts": ("uts_mode", str),
    "isolation": ("isolation", str),
    "runtime": ("runtime", str),
    "cgroup_parent": ("cgroup_parent", str),
    "cgroup": ("cgroupns", str),
}
# Extras read elsewhere: the container name, when to pull, the legacy replica count, and
# volumes_from (which needs the other services' container names).
HANDLED_EXTRAS = {"container_name", "pull_policy", "scale", "volumes_from"}


def replicas(service: Service) -> int:
    if service.deploy.mode == "global":
        return 1  # one per node, and a Docker host is one node
    if service.deploy.replicas is not None:
        return service.deploy.replicas
    return int(service.extras.get("scale", 1))


def pull_policy(service: Service) -> str:
    return str(service.extras.get("pull_policy", "missing"))


def service_networks(service: Service) -> dict[str, list[str]]:
    """Networks in the order compose connects them: highest ``priority`` first."""
    if service.network_mode:
        return {}
    networks = service.networks or {"default": []}

    def priority(key: str) -> int:
        return -int(service.network_options.get(key, {}).get("priority", 0))

    return {key: networks[key] for key in sorted(networks, key=priority)}


def _mount_problems(name: str, mount: VolumeMount) -> list[str]:
    where = f"{name}: mount {mount.target}"
    problems: list[str] = []
    if mount.type == "bind" and not (mount.source or "").startswith("/"):
        problems.append(
            f"{name}: bind mount {mount.source!r} must be an absolute path on the engine's "
            "host (there is no project folder on a remote engine)"
        )
    if mount.bind is not None and mount.bind.recursive:
        problems.append(f"{where}: bind.recursive is not supported")
    if mount.volume is not None and mount.volume.subpath:
        problems.append(f"{where}: volume.subpath needs a newer Engine API; not supported")
    return problems


def _service_problems(service: Service) -> list[str]:
    name = service.name
    problems: list[str] = []
    if service.image is None:
        problems.append(f"{name}: no image (building images is not supported; push one)")
    elif service.build is not None:
        problems.append(f"{name}: build: is not supported; remove it and deploy the image")
    if service.configs or service.secrets:
        problems.append(f"{name}: configs/secrets need a Swarm or Kubernetes target")
    if service.profiles:
        problems.append(f"{name}: profiles are not supported; select them before deploying")
    known = set(EXTRA_SETTINGS) | HANDLED_EXTRAS
    for key in sorted(k for k in service.extras if k not in known):
        problems.append(f"{name}: '{key}' is not supported on a Docker host target")
    if pull_policy(service) not in PULL_POLICIES:
        problems.append(f"{name}: pull_policy {pull_policy(service)!r} is not supported")
    if service.restart and service.restart.split(":")[0] not in RESTART_POLICIES:
        problems.append(f"{name}: unknown restart policy {service.restart!r}")
    if service.healthcheck is not None and service.healthcheck.start_interval is not None:
        problems.append(f"{name}: healthcheck.start_interval needs a newer Engine API")
    deploy = service.deploy
    swarm_only = {
        "deploy.update_config": deploy.update_config,
        "deploy.rollback_config": deploy.rollback_config,
        "deploy.endpoint_mode": deploy.endpoint_mode,
        "deploy.placement": deploy.placement_constraints or deploy.placement_preferences,
        "deploy.placement.max_replicas_per_node": deploy.max_replicas_per_node,
        "deploy.labels": deploy.labels,
        "deploy.resources.reservations.cpus": deploy.reservations.cpus,
        "deploy.resources.reservations.pids": deploy.reservations.pids,
        "deploy.resources.*.generic_resources": deploy.limits.generic_resources
        or deploy.reservations.generic_resources,
        "deploy.resources.*.devices": deploy.limits.devices or deploy.reservations.devices,
    }
    for key, value in swarm_only.items():
        if value:
            problems.append(f"{name}: {key} is not supported on a Docker host; remove it")
    if deploy.mode not in (None, "replicated", "global"):
        problems.append(f"{name}: deploy.mode {deploy.mode!r} is not supported")
    policy = deploy.restart_policy
    if policy is not None and (policy.delay or policy.window):
        problems.append(f"{name}: deploy.restart_policy delay/window only apply to Swarm")
    count = replicas(service)
    if count > 1 and "container_name" in service.extras:
        problems.append(f"{name}: container_name allows a single replica, not {count}")
    if count > 1 and any(p.published is not None for p in service.ports):
        problems.append(f"{name}: {count} replicas cannot all publish the same host port")
    for exposed in service.expose:
        if not EXPOSE.match(exposed):
            problems.append(f"{name}: expose {exposed!r} is not PORT[-PORT][/PROTOCOL]")
    for network, options in service.network_options.items():
        for key in sorted(set(options) - ENDPOINT_OPTIONS):
            problems.append(f"{name}: networks.{network}.{key} is not supported")
    for mount in service.volumes:
        problems += _mount_problems(name, mount)
    if set(service.logging or {}) - {"driver", "options"}:
        problems.append(f"{name}: logging supports only driver and options")
    return problems


def unsupported(stack: Stack) -> list[str]:
    """What this stack asks for that a single Docker engine cannot do as written."""
    problems: list[str] = []
    for service in stack.services.values():
        problems.extend(_service_problems(service))
    if stack.configs or stack.secrets:
        problems.append("top-level configs/secrets need a Swarm or Kubernetes target")
    for key in sorted(set(stack.extras) - STACK_EXTRAS):
        problems.append(f"top-level '{key}' is not supported on a Docker host")
    for kind, specs, allowed in (
        ("network", stack.networks, NETWORK_EXTRAS),
        ("volume", stack.volumes, VOLUME_EXTRAS),
    ):
        for key, declared in specs.items():
            for extra in sorted(declared.extras):
                if extra not in allowed and not extra.startswith("x-"):
                    problems.append(f"{kind} {key}: '{extra}' is not supported on a Docker host")
    return problems


def _nanos(seconds: float | None) -> int | None:
    return int(seconds * 1_000_000_000) if seconds is not None else None


def _ports(service: Service) -> dict[str, Any]:
    bindings: dict[str, list[Any]] = {}
    for port in service.ports:
        # `mode`, `name` and `app_protocol` describe the port; on one engine every
        # published port is bound on the host, so they change nothing here.
        binding = (port.host_ip, port.published) if port.host_ip else port.published
        bindings.setdefault(f"{port.target}/{port.protocol}", []).append(binding)
    return bindings


def exposed_ports(service: Service) -> list[tuple[str, str]]:
    """Ports the container exposes: published ones and ``expose:`` (not published)."""
    keys = {f"{p.target}/{p.protocol}" for p in service.ports}
    for exposed in service.expose:
        numbers, _, protocol = exposed.partition("/")
        first, _, last = numbers.partition("-")
        for number in range(int(first), int(last or first) + 1):
            keys.add(f"{number}/{protocol or 'tcp'}")
    return [(key.split("/")[0], key.split("/")[1]) for key in sorted(keys)]


def _restart_policy(service: Service) -> dict[str, Any] | None:
    if service.restart:
        name, _, retries = service.restart.partition(":")
        policy: dict[str, Any] = {"Name": "" if name == "no" else name}
        if retries:
            policy["MaximumRetryCount"] = int(retries)
        return policy
    swarm_style = service.deploy.restart_policy
    if swarm_style is None:
        return None
    names = {"any": "always", "on-failure": "on-failure", "none": ""}
    policy = {"Name": names.get(swarm_style.condition or "any", "always")}
    if swarm_style.max_attempts:
        policy["MaximumRetryCount"] = swarm_style.max_attempts
    return policy


def _healthcheck(service: Service) -> dict[str, Any] | None:
    check = service.healthcheck
    if check is None:
        return None
    if check.disable:
        return {"test": ["NONE"]}
    return {
        "test": check.test,
        "interval": _nanos(check.interval),
        "timeout": _nanos(check.timeout),
        "retries": check.retries,
        "start_period": _nanos(check.start_period),
    }


def _mounts(stack: Stack, service: Service) -> tuple[list[Mount], list[str]]:
    """Mounts, plus legacy binds for host paths the engine should create or relabel."""
    mounts: list[Mount] = []
    binds: list[str] = []
    for v in service.volumes:
        bind, volume, tmpfs = v.bind, v.volume, v.tmpfs
        if v.type == "bind" and bind is not None and (bind.create_host_path or bind.selinux):
            # Only the legacy Binds syntax makes the engine create a missing host folder
            # (as compose does for short-syntax binds) and apply SELinux relabelling.
            modes = ["ro" if v.read_only else "rw", bind.selinux, bind.propagation]
            binds.append(f"{v.source}:{v.target}:{','.join(m for m in modes if m)}")
            continue
        mounts.append(
            Mount(
                target=v.target,
                source=volume_name(stack, v.source)
                if v.type == "volume" and v.source
                else v.source,
                type=v.type,
                read_only=v.read_only,
                consistency=v.consistency,
                propagation=bind.propagation if bind else None,
                no_copy=bool(volume and volume.nocopy),
                labels=(volume.labels or None) if volume else None,
                tmpfs_size=tmpfs.size if tmpfs else None,
                tmpfs_mode=tmpfs.mode if tmpfs else None,
            )
        )
    return mounts, binds


def _shared(stack: Stack, mode: str | None) -> str | None:
    """``service:db`` (compose) -> ``container:<db's container>`` (the engine)."""
    if mode and mode.startswith("service:"):
        other = stack.services[mode.removeprefix("service:")]
        return f"container:{container_name(stack.name, other, 1)}"
    return mode


def _volumes_from(stack: Stack, service: Service) -> list[str] | None:
    entries: list[str] = []
    for entry in service.extras.get("volumes_from") or []:
        source, _, mode = str(entry).partition(":")
        if source == "container":
            entries.append(str(entry).removeprefix("container:"))
            continue
        name = container_name(stack.name, stack.services[source], 1)
        entries.append(f"{name}:{mode}" if mode else name)
    return entries or None


def resources_label(stack: Stack, service: Service) -> str:
    """Engine names of what the service uses, so scale() can rebuild it without the stack."""
    peers = {
        ref.removeprefix("service:")
        for ref in (service.network_mode, service.ipc, service.pid)
        if ref and ref.startswith("service:")
    } | {str(e).split(":")[0] for e in service.extras.get("volumes_from") or []}
    return json.dumps(
        {
            "networks": {k: network_name(stack, k) for k in service_networks(service)},
            "volumes": {k: volume_name(stack, k) for k in stack.volumes},
            "peers": {
                p: container_name(stack.name, stack.services[p], 1)
                for p in sorted(peers)
                if p in stack.services
            },
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def stack_for_scale(stack_name: str, service: Service, labels: Mapping[str, str]) -> Stack:
    """A one-service stack that resolves to the same engine names as the deployed one."""
    used = json.loads(labels.get(RESOURCES) or "{}")
    peers = {
        name: Service(name=name, extras={"container_name": container})
        for name, container in (used.get("peers") or {}).items()
    }
    return Stack(
        name=stack_name,
        services={**peers, service.name: service},
        networks={
            k: NetworkSpec(name=v, external=True) for k, v in (used.get("networks") or {}).items()
        },
        volumes={
            k: VolumeSpec(name=v, external=True) for k, v in (used.get("volumes") or {}).items()
        },
    )


def create_kwargs(
    stack: Stack, service: Service, number: int, *, placeholder: bool = False
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``, networks excepted."""
    container_labels = service_labels(stack.name, service, number, placeholder=placeholder)
    container_labels[RESOURCES] = resources_label(stack, service)
    mounts, binds = _mounts(stack, service)
    limits, reservations = service.deploy.limits, service.deploy.reservations
    kwargs: dict[str, Any] = {
        "image": service.image,
        "name": container_name(stack.name, service, number),
        "labels": container_labels,
        "detach": True,
        "environment": {k: v for k, v in service.environment.items() if v is not None},
        "hostname": service.hostname,
        "user": service.user,
        "working_dir": service.working_dir,
        "read_only": service.read_only,
        "privileged": service.privileged,
        "cap_add": service.cap_add or None,
        "cap_drop": service.cap_drop or None,
        "security_opt": service.security_opt or None,
        "pid_mode": _shared(stack, service.pid),
        "ipc_mode": _shared(stack, service.ipc),
        "network_mode": _shared(stack, service.network_mode),
        "volumes_from": _volumes_from(stack, service),
        "devices": service.devices or None,
        "extra_hosts": dict(h.split(":", 1) for h in service.extra_hosts) or None,
        "healthcheck": _healthcheck(service),
        "restart_policy": _restart_policy(service),
        "ports": _ports(service) or None,
        "tmpfs": {path: "" for path in service.tmpfs} or None,
        "mounts": mounts or None,
        "volumes": binds or None,
        "command": service.command,
        "entrypoint": service.entrypoint,
    }
    for key, (argument, convert) in EXTRA_SETTINGS.items():
        if key in service.extras:
            kwargs[argument] = convert(service.extras[key])
    if service.logging:
        kwargs["log_config"] = {
            "Type": service.logging.get("driver", "json-file"),
            "Config": {k: str(v) for k, v in (service.logging.get("options") or {}).items()},
        }
    if limits.cpus:
        kwargs["nano_cpus"] = _nanocpus(limits.cpus)
    if limits.memory:
        kwargs["mem_limit"] = limits.memory
    if limits.pids:
        kwargs["pids_limit"] = limits.pids
    if reservations.memory:
        kwargs["mem_reservation"] = reservations.memory
    if service.ulimits:
        kwargs["ulimits"] = [
            Ulimit(name=n, soft=v, hard=v)
            if isinstance(v, int)
            else Ulimit(name=n, soft=v.get("soft"), hard=v.get("hard"))
            for n, v in service.ulimits.items()
        ]
    return {k: v for k, v in kwargs.items() if v is not None}


def endpoint_options(service: Service, key: str) -> dict[str, Any]:
    """``create_endpoint_config``/``connect`` arguments for one network of the service."""
    options = service.network_options.get(key, {})
    found = {
        "aliases": [service.name, *service_networks(service).get(key, [])],
        "ipv4_address": options.get("ipv4_address"),
        "ipv6_address": options.get("ipv6_address"),
        "link_local_ips": options.get("link_local_ips"),
        "driver_opt": _pairs(options["driver_opts"]) if options.get("driver_opts") else None,
    }
    return {k: v for k, v in found.items() if v is not None}


def network_create_kwargs(stack: Stack, key: str) -> dict[str, Any]:
    declared = stack.networks.get(key)
    kwargs: dict[str, Any] = {
        "name": network_name(stack, key),
        "driver": (declared.driver if declared else None) or "bridge",
        "labels": network_labels(stack.name, key, declared.labels if declared else {}),
    }
    if declared is None:
        return kwargs
    kwargs["internal"] = declared.internal
    kwargs["attachable"] = declared.attachable
    extras = declared.extras
    if extras.get("driver_opts"):
        kwargs["options"] = _pairs(extras["driver_opts"])
    if "enable_ipv6" in extras:
        kwargs["enable_ipv6"] = bool(extras["enable_ipv6"])
    if extras.get("ipam"):
        ipam = extras["ipam"]
        pools = [
            IPAMPool(
                subnet=pool.get("subnet"),
                iprange=pool.get("ip_range"),
                gateway=pool.get("gateway"),
                aux_addresses=pool.get("aux_addresses"),
            )
            for pool in ipam.get("config") or []
        ]
        kwargs["ipam"] = IPAMConfig(
            driver=ipam.get("driver", "default"), pool_configs=pools, options=ipam.get("options")
        )
    return kwargs


def volume_create_kwargs(stack: Stack, key: str) -> dict[str, Any]:
    declared = stack.volumes[key]
    kwargs: dict[str, Any] = {
        "name": volume_name(stack, key),
        "driver": declared.driver or "local",
        "labels": volume_labels(stack.name, key, declared.labels),
    }
    if declared.extras.get("driver_opts"):
        kwargs["driver_opts"] = _pairs(declared.extras["driver_opts"])
    return kwargs
