"""From a validated compose mapping to the typed ``Stack``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tools.stack.durations import parse_bytes, parse_duration
from tools.stack.loader import Document, PathKey
from tools.stack.model import (
    Deploy,
    FileRef,
    FileSpec,
    Healthcheck,
    NetworkSpec,
    PortMapping,
    Resources,
    RestartPolicy,
    Service,
    Stack,
    UpdatePolicy,
    VolumeMount,
    VolumeSpec,
    split_command,
)

_TYPED = set(Service.model_fields) - {"name", "extras"} | {"env_file"}
_PORT = re.compile(
    r"^(?:(?P<ip>\[[^\]]+\]|[\d.]+|[^:/]*):)??(?:(?P<published>\d+(?:-\d+)?)?:)?"
    r"(?P<target>\d+(?:-\d+)?)(?:/(?P<protocol>tcp|udp|sctp))?$"
)


def _mapping(value: Any, separator: str = "=") -> dict[str, str | None]:
    if isinstance(value, dict):
        return {str(k): None if v is None else _scalar(v) for k, v in value.items()}
    result: dict[str, str | None] = {}
    for item in value or []:
        key, sep, rest = str(item).partition(separator)
        result[key] = rest if sep else None
    return result


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _range(text: str) -> list[int]:
    start, _, end = text.partition("-")
    return list(range(int(start), int(end or start) + 1))


class _Normalizer:
    def __init__(self, document: Document, read_env_file: Callable[[str], str] | None) -> None:
        self.document = document
        self.read_env_file = read_env_file

    def fail(self, message: str, path: PathKey, hint: str | None = None) -> Exception:
        return self.document.error(message, path, hint)

    def duration(self, value: Any, path: PathKey) -> float | None:
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.fail(str(exc), path) from exc

    def size(self, value: Any, path: PathKey) -> int | None:
        if value is None:
            return None
        try:
            return parse_bytes(value)
        except ValueError as exc:
            raise self.fail(str(exc), path) from exc

    def ports(self, raw: list[Any], path: PathKey) -> list[PortMapping]:
        ports: list[PortMapping] = []
        for index, item in enumerate(raw):
            where = (*path, index)
            if isinstance(item, dict):
                published = item.get("published")
                ports.append(
                    PortMapping(
                        target=int(item["target"]),
                        published=int(published) if published not in (None, "") else None,
                        host_ip=item.get("host_ip"),
                        protocol=item.get("protocol", "tcp"),
                    )
                )
                continue
            match = _PORT.match(str(item))
            if match is None:
                raise self.fail(
                    f"{item!r} is not a valid port mapping",
                    where,
                    hint='use [HOST_IP:][HOST:]CONTAINER[/PROTOCOL], e.g. "127.0.0.1:8080:80"',
                )
            targets = _range(match["target"])
            published_range = _range(match["published"]) if match["published"] else []
            if published_range and len(published_range) != len(targets):
                raise self.fail(f"{item!r}: the port ranges differ in length", where)
            host_ip = (match["ip"] or "").strip("[]") or None
            for position, target in enumerate(targets):
                ports.append(
                    PortMapping(
                        target=target,
                        published=published_range[position] if published_range else None,
                        host_ip=host_ip,
                        protocol=match["protocol"] or "tcp",
                    )
                )
        return ports

    def volumes(self, raw: list[Any], path: PathKey) -> list[VolumeMount]:
        mounts: list[VolumeMount] = []
        for index, item in enumerate(raw):
            if isinstance(item, dict):
                mounts.append(
                    VolumeMount(
                        type=item.get("type", "volume"),
                        source=item.get("source"),
                        target=item["target"],
                        read_only=bool(item.get("read_only", False)),
                    )
                )
                continue
            parts = str(item).split(":")
            if len(parts) == 1:
                mounts.append(VolumeMount(type="volume", target=parts[0]))
                continue
            if len(parts) > 3:
                raise self.fail(
                    f"{item!r} is not a valid volume", (*path, index), hint="use SOURCE:TARGET[:ro]"
                )
            source, target = parts[0], parts[1]
            mode = parts[2] if len(parts) == 3 else ""
            is_bind = source.startswith(("/", ".", "~"))
            mounts.append(
                VolumeMount(
                    type="bind" if is_bind else "volume",
                    source=source,
                    target=target,
                    read_only="ro" in mode.split(","),
                )
            )
        return mounts

    def healthcheck(self, raw: dict[str, Any] | None, path: PathKey) -> Healthcheck | None:
        if raw is None:
            return None
        test = raw.get("test")
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        return Healthcheck(
            test=[str(t) for t in test or []],
            interval=self.duration(raw.get("interval"), (*path, "interval")),
            timeout=self.duration(raw.get("timeout"), (*path, "timeout")),
            start_period=self.duration(raw.get("start_period"), (*path, "start_period")),
            retries=raw.get("retries"),
            disable=bool(raw.get("disable", False)) or test == ["NONE"],
        )

    def policy(self, raw: dict[str, Any] | None, path: PathKey) -> UpdatePolicy | None:
        if raw is None:
            return None
        return UpdatePolicy(
            parallelism=raw.get("parallelism"),
            delay=self.duration(raw.get("delay"), (*path, "delay")),
            failure_action=raw.get("failure_action"),
            order=raw.get("order"),
            monitor=self.duration(raw.get("monitor"), (*path, "monitor")),
            max_failure_ratio=raw.get("max_failure_ratio"),
        )

    def resources(self, raw: dict[str, Any] | None, path: PathKey) -> Resources:
        raw = raw or {}
        cpus = raw.get("cpus")
        return Resources(
            cpus=float(cpus) if cpus is not None else None,
            memory=self.size(raw.get("memory"), (*path, "memory")),
        )

    def deploy(self, raw: dict[str, Any] | None, path: PathKey) -> Deploy:
        raw = raw or {}
        resources = raw.get("resources") or {}
        restart = raw.get("restart_policy")
        return Deploy(
            mode=raw.get("mode"),
            replicas=raw.get("replicas"),
            limits=self.resources(resources.get("limits"), (*path, "resources", "limits")),
            reservations=self.resources(
                resources.get("reservations"), (*path, "resources", "reservations")
            ),
            update_config=self.policy(raw.get("update_config"), (*path, "update_config")),
            rollback_config=self.policy(raw.get("rollback_config"), (*path, "rollback_config")),
            restart_policy=RestartPolicy(
                condition=restart.get("condition"),
                delay=self.duration(restart.get("delay"), (*path, "restart_policy", "delay")),
                max_attempts=restart.get("max_attempts"),
                window=self.duration(restart.get("window"), (*path, "restart_policy", "window")),
            )
            if restart
            else None,
            placement_constraints=list((raw.get("placement") or {}).get("constraints") or []),
            labels={k: v or "" for k, v in _mapping(raw.get("labels")).items()},
        )

    def refs(self, raw: list[Any] | None) -> list[FileRef]:
        return [
            FileRef(source=item) if isinstance(item, str) else FileRef(**item) for item in raw or []
        ]

    def environment(self, raw: dict[str, Any], path: PathKey) -> dict[str, str | None]:
        env: dict[str, str | None] = {}
        files = raw.get("env_file") or []
        for index, entry in enumerate([files] if isinstance(files, str) else files):
            name = entry if isinstance(entry, str) else entry.get("path")
            required = True if isinstance(entry, str) else entry.get("required", True)
            if self.read_env_file is None:
                raise self.fail(
                    f"env_file {name!r} cannot be read here",
                    (*path, "env_file", index),
                    hint="inline the variables under environment:",
                )
            try:
                text = self.read_env_file(name)
            except FileNotFoundError as exc:
                if not required:
                    continue
                raise self.fail(f"env_file {name!r} does not exist", (*path, "env_file")) from exc
            from tools.stack.interpolation import parse_env_file

            env.update(parse_env_file(text, file=name))
        env.update(_mapping(raw.get("environment")))
        return env

    def service(self, name: str, raw: dict[str, Any]) -> Service:
        path: PathKey = ("services", name)
        depends = raw.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        networks = raw.get("networks") or {}
        if isinstance(networks, list):
            networks = {n: None for n in networks}
        return Service(
            name=name,
            image=raw.get("image"),
            build={"context": raw["build"]}
            if isinstance(raw.get("build"), str)
            else raw.get("build"),
            command=split_command(raw.get("command")),
            entrypoint=split_command(raw.get("entrypoint")),
            environment=self.environment(raw, path),
            ports=self.ports(raw.get("ports") or [], (*path, "ports")),
            expose=[str(e) for e in raw.get("expose") or []],
            volumes=self.volumes(raw.get("volumes") or [], (*path, "volumes")),
            depends_on={
                dep: spec.get("condition", "service_started") for dep, spec in depends.items()
            },
            healthcheck=self.healthcheck(raw.get("healthcheck"), (*path, "healthcheck")),
            restart=raw.get("restart"),
            deploy=self.deploy(raw.get("deploy"), (*path, "deploy")),
            labels={k: v or "" for k, v in _mapping(raw.get("labels")).items()},
            networks={n: list((spec or {}).get("aliases") or []) for n, spec in networks.items()},
            user=str(raw["user"]) if raw.get("user") is not None else None,
            working_dir=raw.get("working_dir"),
            read_only=bool(raw.get("read_only", False)),
            privileged=bool(raw.get("privileged", False)),
            cap_add=list(raw.get("cap_add") or []),
            cap_drop=list(raw.get("cap_drop") or []),
            security_opt=list(raw.get("security_opt") or []),
            network_mode=raw.get("network_mode"),
            pid=raw.get("pid"),
            ipc=raw.get("ipc"),
            devices=list(raw.get("devices") or []),
            tmpfs=[raw["tmpfs"]]
            if isinstance(raw.get("tmpfs"), str)
            else list(raw.get("tmpfs") or []),
            configs=self.refs(raw.get("configs")),
            secrets=self.refs(raw.get("secrets")),
            hostname=raw.get("hostname"),
            extra_hosts=[f"{k}:{v}" for k, v in raw["extra_hosts"].items()]
            if isinstance(raw.get("extra_hosts"), dict)
            else list(raw.get("extra_hosts") or []),
            stop_grace_period=self.duration(
                raw.get("stop_grace_period"), (*path, "stop_grace_period")
            ),
            logging=raw.get("logging"),
            ulimits=dict(raw.get("ulimits") or {}),
            profiles=list(raw.get("profiles") or []),
            extras={k: v for k, v in raw.items() if k not in _TYPED},
        )

    def stack(self, name: str) -> Stack:
        data = self.document.data
        services = data.get("services") or {}
        for service_name, raw in services.items():
            for dependency in raw.get("depends_on") or {}:
                if dependency not in services:
                    raise self.fail(
                        f"depends on unknown service {dependency!r}",
                        ("services", service_name, "depends_on"),
                        hint=f"services: {', '.join(sorted(services))}",
                    )
        return Stack(
            name=name,
            services={n: self.service(n, raw) for n, raw in services.items()},
            networks={
                n: NetworkSpec(
                    driver=(spec or {}).get("driver"),
                    external=bool((spec or {}).get("external", False)),
                    name=(spec or {}).get("name"),
                    internal=bool((spec or {}).get("internal", False)),
                    attachable=bool((spec or {}).get("attachable", False)),
                    labels={k: v or "" for k, v in _mapping((spec or {}).get("labels")).items()},
                    extras={
                        k: v
                        for k, v in (spec or {}).items()
                        if k
                        not in ("driver", "external", "name", "internal", "attachable", "labels")
                    },
                )
                for n, spec in (data.get("networks") or {}).items()
            },
            volumes={
                n: VolumeSpec(
                    driver=(spec or {}).get("driver"),
                    external=bool((spec or {}).get("external", False)),
                    name=(spec or {}).get("name"),
                    labels={k: v or "" for k, v in _mapping((spec or {}).get("labels")).items()},
                    extras={
                        k: v
                        for k, v in (spec or {}).items()
                        if k not in ("driver", "external", "name", "labels")
                    },
                )
                for n, spec in (data.get("volumes") or {}).items()
            },
            configs={n: FileSpec(**_file_spec(s)) for n, s in (data.get("configs") or {}).items()},
            secrets={n: FileSpec(**_file_spec(s)) for n, s in (data.get("secrets") or {}).items()},
            extensions={k: v for k, v in data.items() if k.startswith("x-")},
        )


def _file_spec(spec: dict[str, Any] | None) -> dict[str, Any]:
    spec = spec or {}
    return {
        "file": spec.get("file"),
        "content": spec.get("content"),
        "environment": spec.get("environment"),
        "external": bool(spec.get("external", False)),
        "name": spec.get("name"),
    }


def normalize(
    document: Document, name: str, read_env_file: Callable[[str], str] | None = None
) -> Stack:
    return _Normalizer(document, read_env_file).stack(name)
