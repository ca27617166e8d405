"""From a validated compose document to the typed ``Stack``: top-level resources, and the
references between services and them, which the schema cannot check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tools.stack.errors import ComposeError, Issue
from tools.stack.loader import Document
from tools.stack.model import FileSpec, NetworkSpec, Service, Stack, VolumeSpec
from tools.stack.normalize import EnvFileReader, ServiceNormalizer
from tools.stack.units import labels, parse_bool

_RESOURCE_KEYS = ("networks", "volumes", "configs", "secrets")
# "version" is obsolete and ignored by compose itself; everything else is kept somewhere.
_IGNORED_TOP = {"services", *_RESOURCE_KEYS, "version"}


def _external(spec: dict[str, Any]) -> tuple[bool, str | None]:
    """``external: true`` or the deprecated ``external: {name: x}`` spelling."""
    value = spec.get("external", False)
    if isinstance(value, dict):
        return True, value.get("name") or spec.get("name")
    return parse_bool(value), spec.get("name")


def _network(spec: dict[str, Any]) -> NetworkSpec:
    external, name = _external(spec)
    typed = ("driver", "external", "name", "internal", "attachable", "labels")
    return NetworkSpec(
        driver=spec.get("driver"),
        external=external,
        name=name,
        internal=parse_bool(spec.get("internal", False)),
        attachable=parse_bool(spec.get("attachable", False)),
        labels=labels(spec.get("labels")),
        extras={k: v for k, v in spec.items() if k not in typed},
    )


def _volume(spec: dict[str, Any]) -> VolumeSpec:
    external, name = _external(spec)
    return VolumeSpec(
        driver=spec.get("driver"),
        external=external,
        name=name,
        labels=labels(spec.get("labels")),
        extras={k: v for k, v in spec.items() if k not in ("driver", "external", "name", "labels")},
    )


def _file(spec: dict[str, Any]) -> FileSpec:
    external, name = _external(spec)
    typed = ("file", "content", "environment", "external", "name", "labels")
    return FileSpec(
        file=spec.get("file"),
        content=spec.get("content"),
        environment=spec.get("environment"),
        external=external,
        name=name,
        labels=labels(spec.get("labels")),
        extras={k: v for k, v in spec.items() if k not in typed},
    )


class ProjectNormalizer:
    def __init__(
        self, document: Document, env: Mapping[str, str], read_env_file: EnvFileReader | None
    ) -> None:
        self.document = document
        self.services = ServiceNormalizer(document, env, read_env_file)

    def _resources(self, key: str) -> dict[str, Any]:
        value = self.document.data.get(key) or {}
        return value if isinstance(value, dict) else {}

    def _build(self, key: str, build: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        built: dict[str, Any] = {}
        for name, spec in self._resources(key).items():
            try:
                built[name] = build(spec or {})
            except ValueError as exc:  # a bad boolean string, or a model check
                raise self.document.error(str(exc), (key, name)) from None
        return built

    def _sources(self, kind: str, specs: Mapping[str, FileSpec]) -> None:
        for name, spec in specs.items():
            if not (spec.file or spec.content or spec.environment or spec.external):
                allowed = "file:, environment:" + (", content:" if kind == "configs" else "")
                raise self.document.error(
                    f"{kind[:-1]} {name!r} has no source",
                    (kind, name),
                    hint=f"give one of {allowed} or external: true",
                )

    def _references(self, stack: Stack) -> list[Issue]:
        """Services may only use networks, volumes, configs and secrets declared at the top."""
        issues: list[Issue] = []
        for name, service in stack.services.items():
            path = ("services", name)
            if service.network_mode and service.networks:
                issues.append(
                    self.document.issue(
                        "network_mode and networks cannot be used together",
                        (*path, "networks"),
                        "keep one of them",
                    )
                )
            for key in ("network_mode", "ipc", "pid"):
                mode = getattr(service, key) or ""
                if mode.startswith("service:") and mode[8:] not in stack.services:
                    issues.append(
                        self.document.issue(
                            f"shares the namespace of an unknown service {mode[8:]!r}",
                            (*path, key),
                            f"services: {', '.join(stack.services)}",
                        )
                    )
            for network in service.networks:
                if network != "default" and network not in stack.networks:
                    issues.append(
                        self.document.issue(
                            f"uses the undeclared network {network!r}",
                            (*path, "networks", network),
                            f"declare it under the top-level networks: ({network}: {{}})",
                        )
                    )
            for index, mount in enumerate(service.volumes):
                if mount.type == "volume" and mount.source and mount.source not in stack.volumes:
                    issues.append(
                        self.document.issue(
                            f"uses the undeclared volume {mount.source!r}",
                            (*path, "volumes", index),
                            f"declare it under the top-level volumes: ({mount.source}: {{}}),"
                            " or write a host path as ./" + mount.source,
                        )
                    )
            for kind in ("configs", "secrets"):
                declared = getattr(stack, kind)
                for index, ref in enumerate(getattr(service, kind)):
                    if ref.source not in declared:
                        issues.append(
                            self.document.issue(
                                f"uses the undeclared {kind[:-1]} {ref.source!r}",
                                (*path, kind, index),
                                f"declare it under the top-level {kind}:",
                            )
                        )
        return issues

    def stack(self, name: str) -> Stack:
        data = self.document.data
        if data.get("include"):
            raise self.document.error(
                "include is not supported",
                ("include",),
                hint="merge the included files into this one",
            )
        raw_services = self._resources("services")
        services: dict[str, Service] = {
            service_name: self.services.service(service_name, raw or {}, raw_services)
            for service_name, raw in raw_services.items()
        }
        configs = self._build("configs", _file)
        secrets = self._build("secrets", _file)
        self._sources("configs", configs)
        self._sources("secrets", secrets)
        stack = Stack(
            name=name,
            services=services,
            networks=self._build("networks", _network),
            volumes=self._build("volumes", _volume),
            configs=configs,
            secrets=secrets,
            extensions={k: v for k, v in data.items() if k.startswith("x-")},
            extras={
                k: v for k, v in data.items() if k not in _IGNORED_TOP and not k.startswith("x-")
            },
        )
        issues = self._references(stack)
        if issues:
            raise ComposeError.from_issues(issues, file=self.document.file)
        return stack


def normalize(
    document: Document,
    name: str,
    *,
    env: Mapping[str, str] | None = None,
    read_env_file: EnvFileReader | None = None,
) -> Stack:
    return ProjectNormalizer(document, env or {}, read_env_file).stack(name)
