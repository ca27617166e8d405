"""What a migration cannot do for the user: carry data and move traffic, explained concretely.

Volumes are never copied automatically: a copy taken while the source still writes is a
corrupt copy, and how to take a consistent one depends on what wrote the data. These notes
name each volume, what uses it, and the commands that make a consistent copy for the
well-known databases, falling back to a file-level copy of a stopped service.
"""

from __future__ import annotations

import re

from tools.adapters.docker_labels import volume_name
from tools.stack import Service, Stack, VolumeMount
from tools.targets import TargetKind, TargetSpec

_DUMPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(^|/)(postgres|postgis|timescaledb)"),
        "dump it with `pg_dumpall -U postgres > dump.sql` in the source container and load it "
        "with `psql -U postgres -f dump.sql` in the new one before switching",
    ),
    (
        re.compile(r"(^|/)(mysql|mariadb|percona)"),
        "dump it with `mysqldump --all-databases --single-transaction` in the source "
        "container and load the dump with `mysql` in the new one before switching",
    ),
    (
        re.compile(r"(^|/)mongo"),
        "dump it with `mongodump --archive=dump.archive` and load it with "
        "`mongorestore --archive=dump.archive` in the new container",
    ),
    (
        re.compile(r"(^|/)(redis|valkey|keydb)"),
        "run `redis-cli SAVE` in the source container and copy `dump.rdb` into the new "
        "volume before the new service starts",
    ),
)


def _dump_advice(image: str | None) -> str | None:
    for pattern, advice in _DUMPS:
        if image and pattern.search(image.split("@", 1)[0]):
            return advice
    return None


def _file_copy(volume: str, destination: TargetSpec) -> str:
    archive = (
        f"docker run --rm -v {volume}:/data -v $PWD:/backup busybox "
        f"tar czf /backup/{volume}.tgz -C /data ."
    )
    if destination.kind == TargetKind.KUBERNETES:
        restore = (
            f"restore it into the PersistentVolumeClaim {volume} with a pod that mounts it "
            f"(`kubectl cp {volume}.tgz POD:/tmp` and `tar xzf` into the mount)"
        )
    else:
        restore = (
            f"restore it into the volume {volume} on {destination.name} with the same "
            "command using `tar xzf`"
        )
    return f"stop the service, archive the volume (`{archive}`), then {restore}"


def _volume_note(
    service: Service, mount: VolumeMount, stack: Stack, source: TargetSpec, dest: TargetSpec
) -> str:
    spec = stack.volumes.get(mount.source or "")
    if spec is not None and spec.external:
        name = spec.name or mount.source
        return (
            f"{service.name}: {mount.target} is on the external volume {name}; it must exist "
            f"on {dest.name} with its data before the stack is deployed there"
        )
    volume = volume_name(stack, mount.source) if mount.source else "(anonymous)"
    how = _dump_advice(service.image) or _file_copy(volume, dest)
    where = (
        f"a PersistentVolumeClaim on {dest.name}"
        if dest.kind == TargetKind.KUBERNETES
        else f"a new, empty volume on {dest.name}"
    )
    return (
        f"{service.name}: {mount.target} lives in volume {volume} on {source.name}; the "
        f"migrated service starts with {where}: {how}"
    )


def _bind_note(service: Service, mount: VolumeMount, dest: TargetSpec) -> str:
    path = mount.source or "?"
    if dest.kind == TargetKind.KUBERNETES:
        return (
            f"{service.name}: the host directory {path} ({mount.target}) does not exist in "
            "Kubernetes; put its files in a ConfigMap (configuration) or a "
            "PersistentVolumeClaim (data) and copy them there"
        )
    if dest.kind == TargetKind.SWARM:
        return (
            f"{service.name}: the host directory {path} ({mount.target}) must exist with the "
            "same content on every Swarm node that may run the service, or pin the service "
            "to one node with a placement constraint"
        )
    return f"{service.name}: copy the host directory {path} ({mount.target}) to {dest.name}"


def data_notes(stack: Stack, source: TargetSpec, destination: TargetSpec) -> list[str]:
    """One note per piece of state the stack keeps outside its images."""
    notes: list[str] = []
    for name in sorted(stack.services):
        service = stack.services[name]
        for mount in service.volumes:
            if mount.type == "volume":
                notes.append(_volume_note(service, mount, stack, source, destination))
            elif mount.type == "bind":
                notes.append(_bind_note(service, mount, destination))
    if not notes:
        notes.append("no service keeps data in volumes: nothing to copy")
    return notes


def switch_notes(stack: Stack, source: TargetSpec, destination: TargetSpec) -> list[str]:
    """How clients reach the stack, and what has to point elsewhere after the move."""
    notes: list[str] = []
    for name in sorted(stack.services):
        service = stack.services[name]
        for port in service.ports:
            if port.published is None:
                continue
            where = (
                f"the Service {name} (port {port.target}) or its Ingress"
                if destination.kind == TargetKind.KUBERNETES
                else f"port {port.published} on {destination.name}"
            )
            notes.append(
                f"{name}: clients reach port {port.published} on {source.name}; point them "
                f"(DNS, load balancer or proxy) at {where}"
            )
    if not notes:
        notes.append("no service publishes a port: nothing to switch outside the stack")
    return notes
