"""What a compose stack sets that Kubernetes objects cannot express: reported, not dropped."""

from __future__ import annotations

from tools.convert.result import Notes
from tools.stack import Service, Stack

# Keys the builder maps from a service's ``extras``.
MAPPED_EXTRAS = frozenset({"mem_limit", "mem_reservation", "cpus", "scale", "container_name"})
REASONS = {
    "network_mode": "pods have their own network namespace; run the containers in one pod "
    "by hand if they must share one",
    "pid": "use shareProcessNamespace in a pod of several containers instead",
    "ipc": "pods cannot share an IPC namespace with another pod",
    "devices": "device access needs a device plugin on the nodes",
    "security_opt": "use securityContext seccompProfile/appArmor fields by hand",
    "logging": "the cluster's logging stack collects container output",
    "ulimits": "Kubernetes has no per-container ulimits",
    "links": "services reach each other by Service name",
    "build": "Kubernetes runs images only: build and push the image, then set image:",
    "profiles": "every service is converted; drop the ones you do not want",
    "external_links": "services reach each other by Service name",
    "sysctls": "set safe sysctls in the pod securityContext by hand",
    "dns": "set dnsConfig on the pod by hand",
    "dns_search": "set dnsConfig on the pod by hand",
    "init": "use an init process in the image",
    "shm_size": "mount an emptyDir with medium Memory at /dev/shm",
    "stop_signal": "set STOPSIGNAL in the image",
}


def check_stack(stack: Stack, notes: Notes) -> None:
    declared = [key for key, spec in stack.networks.items() if not spec.external]
    if len(declared) > 1:
        notes.unmapped_field(
            None,
            "networks",
            f"{', '.join(declared)}: every pod shares one cluster network, so the isolation "
            "between compose networks is not reproduced (write NetworkPolicies for it)",
        )
    for key in sorted(k for k in stack.extras if k != "name"):
        notes.unmapped_field(None, key, "no Kubernetes equivalent")


def check_service(stack: Stack, service: Service, notes: Notes) -> None:
    name = service.name
    field_values: dict[str, object] = {
        "network_mode": service.network_mode,
        "pid": service.pid,
        "ipc": service.ipc,
        "devices": service.devices,
        "security_opt": service.security_opt,
        "logging": service.logging,
        "ulimits": service.ulimits,
        "build": service.build if service.image is not None else None,
        "profiles": service.profiles,
    }
    for field, value in field_values.items():
        if value:
            notes.unmapped_field(name, field, REASONS[field])
    if service.image is None:
        notes.unmapped_field(name, "image", "no image: Kubernetes cannot build; set image:")
    for key in sorted(
        k for k in service.extras if k not in MAPPED_EXTRAS and not k.startswith("x-")
    ):
        notes.unmapped_field(name, key, REASONS.get(key, "no Kubernetes equivalent"))
    if "container_name" in service.extras:
        notes.warn(f"{name}: container_name ignored: pods get generated names")
    unset = sorted(k for k, v in service.environment.items() if v is None)
    if unset:
        notes.unmapped_field(
            name,
            "environment",
            f"{', '.join(unset)} take their value from the deploying shell; give them values",
        )
    if service.restart in ("no", "on-failure"):
        notes.unmapped_field(
            name, "restart", f"restart: {service.restart}: workloads always restart containers"
        )
    policy = service.deploy.restart_policy
    if policy is not None and policy.condition in ("none", "on-failure"):
        notes.unmapped_field(
            name, "deploy.restart_policy", "workloads always restart; use a Job for one-off tasks"
        )
    if service.user and not service.user.partition(":")[0].isdigit():
        notes.unmapped_field(name, "user", f"user {service.user!r}: runAsUser needs a numeric uid")
    if service.depends_on:
        notes.warn(
            f"{name}: Kubernetes starts pods in any order (depends_on); readiness probes "
            "keep traffic away until a dependency is ready"
        )
    aliased = {net: aliases for net, aliases in service.networks.items() if aliases}
    if aliased:
        notes.unmapped_field(
            name, "networks.aliases", "pods are reached by Service name only (add Services)"
        )
    for mount in service.volumes:
        if mount.type == "bind" and not (mount.source or "").startswith("/"):
            notes.unmapped_field(
                name,
                f"volumes[{mount.target}]",
                f"relative bind {mount.source}: the files are not in the cluster; "
                "use a ConfigMap (compose configs:) or a volume",
            )
        if mount.volume is not None and mount.volume.subpath:
            notes.unmapped_field(name, f"volumes[{mount.target}].subpath", "not converted")
    for port in service.ports:
        if port.host_ip:
            notes.unmapped_field(name, "ports.host_ip", "Services do not bind to a host IP")
    if service.deploy.endpoint_mode == "dnsrr" and service.ports:
        notes.warn(f"{name}: endpoint_mode dnsrr ignored: Services balance across pods")
    kinds = service.labels
    if kinds:
        notes.warn(f"{name}: compose labels are not copied to the objects")
