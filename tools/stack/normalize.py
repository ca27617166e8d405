"""From a validated compose mapping to the typed ``Service`` (one spelling per concept).

Input here has passed the Compose schema, so shapes are right; what is checked is what
the schema cannot say (a port number, a duration, an env_file that must exist), and
every failure names the path and line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from tools.stack import extensions
from tools.stack.deploy import normalize_deploy
from tools.stack.errors import ComposeError
from tools.stack.interpolation import parse_env_file
from tools.stack.loader import Document, PathKey
from tools.stack.model import (
    BuildSpec,
    DependencyFlags,
    FileRef,
    Healthcheck,
    PortMapping,
    Service,
    VolumeMount,
)
from tools.stack.syntax import (
    SyntaxProblem,
    parse_long_port,
    parse_long_volume,
    parse_short_port,
    parse_short_volume,
)
from tools.stack.units import (
    as_mapping,
    labels,
    parse_bool,
    parse_duration,
    parse_int,
    parse_mode,
)

EnvFileReader = Callable[[str], str]
_TYPED = set(Service.model_fields) - {"name", "extras", "extensions", "dependency_flags"}
_CONSUMED = _TYPED | {"env_file"}
# Typed attributes that may hold x-* keys further down (ports are handled one by one).
_NESTED = (
    *("healthcheck", "deploy", "volumes", "secrets", "configs"),
    *("devices", "networks", "depends_on", "ulimits"),
)
_RESTART = {"no", "always", "unless-stopped", "on-failure"}
_HEALTH_FORMS = {"CMD", "CMD-SHELL", "NONE"}
_PERMISSIONS = re.compile(r"^[rwm]+$")


def split_command(value: Any) -> list[str] | None:
    """Compose splits a string command like a POSIX shell would, without running one."""
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(part) for part in value]


class ServiceNormalizer:
    """Builds one ``Service``; ``fail`` turns any problem into a located ComposeError."""

    def __init__(
        self,
        document: Document,
        env: Mapping[str, str],
        read_env_file: EnvFileReader | None,
    ) -> None:
        self.document = document
        self.env = env
        self.read_env_file = read_env_file

    def fail(self, problem: str, path: PathKey, hint: str | None = None) -> ComposeError:
        return self.document.error(problem, path, hint)

    def convert(self, parse: Callable[[Any], Any], value: Any, path: PathKey) -> Any:
        """``parse(value)`` unless value is None; a ValueError becomes a located error."""
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(str(exc), path) from None

    def ports(self, raw: list[Any], path: PathKey) -> tuple[list[PortMapping], dict[str, Any]]:
        ports: list[PortMapping] = []
        found: dict[str, Any] = {}
        for index, item in enumerate(raw):
            try:
                if isinstance(item, dict):
                    # Extensions follow the normalized index: rendering writes one per port.
                    found |= extensions.collect(item, extensions.pointer("ports", len(ports)))
                    ports.append(parse_long_port(item))
                else:
                    ports.extend(parse_short_port(item))
            except SyntaxProblem as exc:
                raise self.fail(exc.problem, (*path, index), exc.hint) from None
        return ports, found

    def volumes(self, raw: list[Any], path: PathKey) -> list[VolumeMount]:
        mounts: list[VolumeMount] = []
        for index, item in enumerate(raw):
            try:
                parse = parse_long_volume if isinstance(item, dict) else parse_short_volume
                mounts.append(parse(item))
            except SyntaxProblem as exc:
                raise self.fail(exc.problem, (*path, index), exc.hint) from None
        return mounts

    def healthcheck(self, raw: dict[str, Any] | None, path: PathKey) -> Healthcheck | None:
        if raw is None:
            return None
        test = raw.get("test")
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        if test and test[0] not in _HEALTH_FORMS:
            raise self.fail(
                f"a healthcheck test list starts with CMD, CMD-SHELL or NONE, not {test[0]!r}",
                (*path, "test"),
                hint='e.g. ["CMD", "curl", "-f", "http://localhost/"], or a string for a shell',
            )
        if test == ["NONE"] or self.convert(parse_bool, raw.get("disable"), (*path, "disable")):
            return Healthcheck(disable=True)
        return Healthcheck(
            test=list(test or []),
            interval=self.convert(parse_duration, raw.get("interval"), (*path, "interval")),
            timeout=self.convert(parse_duration, raw.get("timeout"), (*path, "timeout")),
            start_period=self.convert(
                parse_duration, raw.get("start_period"), (*path, "start_period")
            ),
            start_interval=self.convert(
                parse_duration, raw.get("start_interval"), (*path, "start_interval")
            ),
            retries=self.convert(parse_int, raw.get("retries"), (*path, "retries")),
        )

    def refs(self, raw: list[Any] | None, path: PathKey) -> list[FileRef]:
        refs: list[FileRef] = []
        for index, item in enumerate(raw or []):
            if isinstance(item, str):
                refs.append(FileRef(source=item))
                continue
            refs.append(
                FileRef(
                    source=item["source"],
                    target=item.get("target"),
                    uid=item.get("uid"),
                    gid=item.get("gid"),
                    mode=self.convert(parse_mode, item.get("mode"), (*path, index, "mode")),
                )
            )
        return refs

    def environment(self, raw: dict[str, Any], path: PathKey) -> dict[str, str | None]:
        """env_file contents first (in order), then ``environment:``, which wins."""
        env: dict[str, str | None] = {}
        files = raw.get("env_file") or []
        for index, entry in enumerate([files] if isinstance(files, str) else files):
            where = (*path, "env_file", index)
            name = entry if isinstance(entry, str) else entry["path"]
            required = True
            if isinstance(entry, dict):
                required = self.convert(parse_bool, entry.get("required", True), where)
                if entry.get("format"):
                    raise self.fail(f"env_file format {entry['format']!r} is not supported", where)
            if self.read_env_file is None:
                if not required:
                    continue  # nothing can be read, so an optional file counts as absent
                raise self.fail(
                    f"env_file {name!r} cannot be read: no base directory was given",
                    where,
                    hint="load the stack from its file, or move the variables to environment:",
                )
            try:
                text = self.read_env_file(name)
            except FileNotFoundError:
                if not required:
                    continue
                raise self.fail(
                    f"env_file {name!r} does not exist",
                    where,
                    hint="paths are relative to the compose file; set required: false if optional",
                ) from None
            env.update(parse_env_file(text, file=name, env=self.env))
        env.update(as_mapping(raw.get("environment")))
        return env

    def depends_on(
        self, raw: Any, path: PathKey, services: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, DependencyFlags]]:
        entries = {n: {} for n in raw} if isinstance(raw, list) else dict(raw or {})
        conditions: dict[str, Any] = {}
        flags: dict[str, DependencyFlags] = {}
        for name, spec in entries.items():
            required = self.convert(parse_bool, spec.get("required", True), (*path, name))
            restart = self.convert(parse_bool, spec.get("restart", False), (*path, name))
            if name not in services:
                if not required:
                    continue  # compose ignores a missing optional dependency
                raise self.fail(
                    f"depends on an unknown service {name!r}",
                    (*path, name),
                    hint=f"services: {', '.join(services)}",
                )
            conditions[name] = spec.get("condition", "service_started")
            if restart or not required:
                flags[name] = DependencyFlags(restart=restart, required=required)
        return conditions, flags

    def networks(self, raw: Any) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
        if isinstance(raw, list):
            return {name: [] for name in raw}, {}
        aliases: dict[str, list[str]] = {}
        options: dict[str, dict[str, Any]] = {}
        for name, spec in (raw or {}).items():
            spec = extensions.without(spec or {})
            aliases[name] = list(spec.pop("aliases", None) or [])
            if spec:
                options[name] = spec
        return aliases, options

    def service(self, name: str, raw: dict[str, Any], services: Mapping[str, Any]) -> Service:
        path: PathKey = ("services", name)
        if not any(raw.get(key) for key in ("image", "build", "provider")):
            raise self.fail(
                f"service {name!r} has neither an image nor a build",
                path,
                hint="add image: repository:tag",
            )
        own_extensions = {k: v for k, v in raw.items() if k.startswith("x-")}
        nested = {extensions.pointer(k): v for k, v in own_extensions.items()}
        for key in _NESTED:
            nested |= extensions.collect(raw.get(key), extensions.pointer(key))
        ports, port_extensions = self.ports(raw.get("ports") or [], (*path, "ports"))
        depends_on, flags = self.depends_on(raw.get("depends_on"), (*path, "depends_on"), services)
        # A dropped optional dependency takes its extensions with it.
        nested = {
            pointer: value
            for pointer, value in nested.items()
            if not pointer.startswith("/depends_on/") or pointer.split("/")[2] in depends_on
        }
        aliases, network_options = self.networks(raw.get("networks"))
        build = raw.get("build")
        if isinstance(build, str):
            build = {"context": build}
        try:
            return Service(
                name=name,
                image=raw.get("image"),
                build=None
                if build is None
                else BuildSpec(
                    context=build.get("context", "."),
                    dockerfile=build.get("dockerfile"),
                    options={k: v for k, v in build.items() if k not in ("context", "dockerfile")},
                ),
                command=self.command(raw, path, "command"),
                entrypoint=self.command(raw, path, "entrypoint"),
                environment=self.environment(raw, path),
                ports=ports,
                expose=[str(e) for e in raw.get("expose") or []],
                volumes=self.volumes(raw.get("volumes") or [], (*path, "volumes")),
                depends_on=depends_on,
                dependency_flags=flags,
                healthcheck=self.healthcheck(raw.get("healthcheck"), (*path, "healthcheck")),
                restart=self.restart(raw.get("restart"), (*path, "restart")),
                deploy=normalize_deploy(raw.get("deploy"), (*path, "deploy"), self.convert),
                labels=labels(raw.get("labels")),
                networks=aliases,
                network_options=network_options,
                user=raw.get("user"),
                working_dir=raw.get("working_dir"),
                read_only=self.convert(
                    parse_bool, raw.get("read_only", False), (*path, "read_only")
                ),
                privileged=self.convert(
                    parse_bool, raw.get("privileged", False), (*path, "privileged")
                ),
                cap_add=list(raw.get("cap_add") or []),
                cap_drop=list(raw.get("cap_drop") or []),
                security_opt=list(raw.get("security_opt") or []),
                network_mode=raw.get("network_mode"),
                pid=raw.get("pid"),
                ipc=raw.get("ipc"),
                devices=[self.device(d) for d in raw.get("devices") or []],
                tmpfs=[raw["tmpfs"]]
                if isinstance(raw.get("tmpfs"), str)
                else raw.get("tmpfs") or [],
                configs=self.refs(raw.get("configs"), (*path, "configs")),
                secrets=self.refs(raw.get("secrets"), (*path, "secrets")),
                hostname=raw.get("hostname"),
                extra_hosts=self.extra_hosts(raw.get("extra_hosts")),
                stop_grace_period=self.convert(
                    parse_duration, raw.get("stop_grace_period"), (*path, "stop_grace_period")
                ),
                logging=raw.get("logging"),
                ulimits=self.ulimits(raw.get("ulimits") or {}, (*path, "ulimits")),
                profiles=list(raw.get("profiles") or []),
                extensions=nested | port_extensions,
                extras={
                    k: v for k, v in raw.items() if k not in _CONSUMED and k not in own_extensions
                },
            )
        except ValidationError as exc:
            # The schema and the checks above should make this unreachable; if not, the
            # user still gets a located error instead of a pydantic traceback.
            location = exc.errors()[0]["loc"]
            problem = exc.errors()[0]["msg"]
            raise self.fail(f"{'.'.join(map(str, location))}: {problem}", path) from None

    def command(self, raw: dict[str, Any], path: PathKey, key: str) -> list[str] | None:
        try:
            return split_command(raw.get(key))
        except ValueError as exc:
            raise self.fail(
                f"cannot split the {key} into words: {exc}",
                (*path, key),
                hint='quote it consistently, or use the list form ["prog", "arg"]',
            ) from None

    def restart(self, value: str | None, path: PathKey) -> str | None:
        if value is None:
            return None
        policy, _, retries = value.partition(":")
        if policy not in _RESTART or (
            retries and (policy != "on-failure" or not retries.isdigit())
        ):
            raise self.fail(
                f"{value!r} is not a restart policy",
                path,
                hint="use no, always, unless-stopped, on-failure or on-failure:N",
            )
        return value

    @staticmethod
    def device(item: Any) -> str:
        """Canonical ``HOST:CONTAINER[:PERMS]`` (``/dev/x:rw`` reads as ``/dev/x:/dev/x:rw``)."""
        if isinstance(item, dict):
            source, target, permissions = (
                item["source"],
                item.get("target"),
                item.get("permissions"),
            )
        else:
            parts = str(item).split(":")
            source = parts[0]
            target = parts[1] if len(parts) > 1 else None
            permissions = parts[2] if len(parts) > 2 else None
            if len(parts) == 2 and _PERMISSIONS.match(parts[1]):
                target, permissions = None, parts[1]
        if permissions and not target:
            target = source
        return ":".join(part for part in (source, target, permissions) if part)

    @staticmethod
    def extra_hosts(raw: Any) -> list[str]:
        if isinstance(raw, dict):
            hosts: list[str] = []
            for host, address in raw.items():
                for one in address if isinstance(address, list) else [address]:
                    hosts.append(f"{host}:{one}")
            return hosts
        # "host=ip" is the newer spelling; "host:ip" the one adapters expect.
        return [h.replace("=", ":", 1) if "=" in h else h for h in raw or []]

    def ulimits(self, raw: dict[str, Any], path: PathKey) -> dict[str, int | dict[str, int]]:
        limits: dict[str, int | dict[str, int]] = {}
        for name, value in raw.items():
            if isinstance(value, dict):
                limits[name] = {
                    bound: self.convert(parse_int, value[bound], (*path, name, bound))
                    for bound in ("soft", "hard")
                }
            else:
                limits[name] = self.convert(parse_int, value, (*path, name))
        return limits
