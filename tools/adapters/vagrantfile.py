"""From a ``Stack`` and a target's Vagrant settings to a Vagrantfile (Ruby).

Two shapes:

* VM providers (libvirt, virtualbox): one machine per stack. A shell provisioner installs
  Docker from the distribution's packages, writes the compose YAML rendered from the stack
  to ``/opt/windflow/<stack>/compose.yaml`` and runs ``docker compose up -d`` in the VM.
* The docker provider: one machine per service (``config.vm.define`` each), the container
  settings expressed as provider options and ``create_args``.

Every value from the stack or the target reaches Ruby only through :func:`ruby_str`: a
double-quoted literal in which quotes, backslashes and ``#`` (the start of ``#{}``,
``#@`` and ``#$`` interpolation) are escaped and everything outside printable ASCII is a
``\\u{...}`` escape, so no value can end the literal, interpolate, or hide a NUL, ^D or
^Z (which end a Ruby script early). Machine, container and host names are also reduced
to safe slugs, because Vagrant's CLI reads a machine argument like ``/x/`` as a regex.

Settings a provider cannot express are never dropped silently: ``problems`` make a deploy
refuse, ``warnings`` (approximations, settings this provider does not use) are shown to
the approver. The end of the module compares a rendering with the deployed one, machine
by machine (block fingerprints), for plans and their Vagrantfile diff.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import ipaddress
import re
import shlex
from typing import Literal

from pydantic import BaseModel, Field

from tools.base import PlanChange
from tools.bounded import bound_text
from tools.stack import PortMapping, Service, Stack, dependency_order, dump_compose
from tools.targets import VagrantConnection
from windflow.errors import InvalidInput

DOCKER_PROVIDER = "docker"
VM_PROVIDERS = frozenset({"libvirt", "virtualbox"})
REMOTE_ROOT = "/opt/windflow"
STACK_LABEL = "dev.windflow.vagrant.stack"
SERVICE_LABEL = "dev.windflow.vagrant.service"
# Extras that only change how a container is attached to a terminal or named.
HARMLESS_EXTRAS = frozenset({"container_name", "stdin_open", "tty", "pull_policy"})
# Extras with a `docker run` flag of their own.
FLAG_EXTRAS = {"stop_signal": "--stop-signal", "init": "--init", "platform": "--platform"}

_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_SAFE_MACHINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_SAFE_STACK = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_BOX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,200}$")
_SAFE_VOLUME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Machine(BaseModel):
    """One Vagrant machine of the rendered file."""

    name: str = Field(description="Vagrant machine name (safe slug)")
    service: str = Field(description="Stack service it runs, or the stack for a VM")
    kind: Literal["vm", "container"]
    image: str | None = Field(default=None, description="Container image or VM box")
    fingerprint: str = Field(description="Hash of the machine's block: changed = replace it")
    ports: list[str] = Field(default_factory=list)


class RenderedVagrantfile(BaseModel):
    stack: str
    directory: str = Field(description="Safe folder name of the stack")
    provider: str
    text: str
    machines: list[Machine] = Field(description="In the order `vagrant up` brings them up")
    network: str | None = Field(default=None, description="Docker network the stack shares")
    volumes: list[str] = Field(default_factory=list, description="Docker named volumes used")
    problems: list[str] = Field(default_factory=list, description="Not expressible: refuse")
    warnings: list[str] = Field(default_factory=list, description="Approximated or unused")

    def refuse_problems(self) -> None:
        if self.problems:
            raise InvalidInput(
                f"stack {self.stack} cannot run on the Vagrant {self.provider} provider: "
                + "; ".join(self.problems),
                hint="change these settings, or deploy the stack to a Docker, Swarm or "
                "Kubernetes target",
                details={"problems": self.problems},
            )


class DeployedState(BaseModel):
    """What the last successful deploy rendered (``windflow.json``)."""

    stack: str
    provider: str
    machines: list[Machine]
    network: str | None = None
    volumes: list[str] = Field(default_factory=list)


class VagrantPreview(BaseModel):
    """What a deploy would do: per-machine changes, the Vagrantfile diff, the warnings."""

    stack: str
    provider: str
    changes: list[PlanChange]
    diff: str = Field(description="Unified diff of the Vagrantfile, deployed -> proposed")
    warnings: list[str] = Field(default_factory=list)


# --- Ruby literals -------------------------------------------------------------------------


def ruby_str(value: str) -> str:
    """A Ruby double-quoted literal that evaluates to exactly ``value``."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char in '"\\#':
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif 0xD800 <= code <= 0xDFFF:
            raise InvalidInput(
                "a value contains an unpaired UTF-16 surrogate, which Ruby cannot represent",
                hint="fix the encoding of the compose file",
            )
        else:
            out.append(f"\\u{{{code:x}}}")
    out.append('"')
    return "".join(out)


def ruby_list(values: list[str]) -> str:
    return "[" + ", ".join(ruby_str(v) for v in values) + "]"


def ruby_hash(values: dict[str, str]) -> str:
    if not values:
        return "{}"
    return "{ " + ", ".join(f"{ruby_str(k)} => {ruby_str(v)}" for k, v in values.items()) + " }"


# --- names ---------------------------------------------------------------------------------


def _digest(value: str, length: int = 8) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def slug(value: str, limit: int = 40) -> str:
    """A lowercase ``[a-z0-9-]`` name; a hash suffix keeps different inputs apart."""
    base = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:limit].strip("-") or "x"
    return f"{base}-{_digest(value)}"


def stack_directory(stack: str) -> str:
    """The folder name of a stack: the name itself when it is already a safe one."""
    return stack if _SAFE_STACK.match(stack) else slug(stack)


def machine_name(service: str) -> str:
    return service if _SAFE_MACHINE.match(service) else slug(service)


def container_name(stack: str, machine: str) -> str:
    return f"windflow-{stack_directory(stack)}-{machine}"


def network_name(stack: str) -> str:
    return f"windflow-{stack_directory(stack)}"


def hostname(stack: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-")[:63].strip("-")
    return label or "windflow"


def _seconds(value: float) -> str:
    return f"{round(value * 1000)}ms"


# --- rendering -----------------------------------------------------------------------------


def render(stack: Stack, settings: VagrantConnection) -> RenderedVagrantfile:
    """Render the Vagrantfile for ``stack``; never raises for unmappable settings."""
    if not stack.services:
        raise InvalidInput(f"stack {stack.name} has no services", hint="add at least one")
    if settings.provider == DOCKER_PROVIDER:
        return _DockerRenderer(stack, settings).render()
    if settings.provider in VM_PROVIDERS:
        return _render_vm(stack, settings)
    raise InvalidInput(
        f"the Vagrant provider {settings.provider!r} is not supported",
        hint=f"use one of: {', '.join(sorted({DOCKER_PROVIDER, *VM_PROVIDERS}))}",
    )


def _header(stack: Stack) -> list[str]:
    # The stack name goes into a comment only after slugging: a newline in it must not
    # turn the rest of the comment into code.
    return [
        f"# Generated by WindFlow for the stack {stack_directory(stack.name)}: do not edit,",
        "# the next deploy overwrites this file.",
        'Vagrant.configure("2") do |config|',
        '  config.vm.synced_folder ".", "/vagrant", disabled: true',
    ]


def _common_problems(stack: Stack) -> list[str]:
    problems: list[str] = []
    for name, service in stack.services.items():
        if service.build is not None and service.image is None:
            problems.append(f"{name}: builds an image (push one and set image: instead)")
        elif service.image is None:
            problems.append(f"{name}: has no image")
        unset = sorted(k for k, v in service.environment.items() if v is None)
        if unset:
            problems.append(
                f"{name}: environment {', '.join(unset)} take their value from the server's "
                "environment, which the machine does not have (give them values)"
            )
    return problems


# --- VM providers: compose inside the VM -----------------------------------------------------


def provision_script(stack: Stack) -> str:
    """The shell provisioner: install Docker from the distribution, write and run the stack.

    The compose YAML travels base64-encoded, so no content of it can end a here-document
    or reach the shell as syntax; paths and names are quoted with ``shlex.quote``.
    """
    directory = f"{REMOTE_ROOT}/{stack_directory(stack.name)}"
    quoted_dir = shlex.quote(directory)
    compose = base64.b64encode(dump_compose(stack).encode()).decode()
    project = shlex.quote(re.sub(r"[^a-z0-9_-]", "-", stack_directory(stack.name)))
    return f"""set -eu
has() {{ command -v "$1" >/dev/null 2>&1; }}
has_compose() {{ docker compose version >/dev/null 2>&1 || has docker-compose; }}
if ! has docker || ! has_compose; then
  if has apt-get; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q docker.io
    apt-get install -y -q docker-compose-v2 || apt-get install -y -q docker-compose
  elif has dnf; then
    dnf install -y moby-engine docker-compose
  else
    echo "windflow: this box has neither apt-get nor dnf to install Docker with" >&2
    exit 1
  fi
fi
systemctl enable --now docker
compose() {{
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}}
install -d -m 0750 {quoted_dir}
echo '{compose}' | base64 -d > {quoted_dir}/compose.yaml
chmod 0640 {quoted_dir}/compose.yaml
compose --project-name {project} --project-directory {quoted_dir} \\
  -f {quoted_dir}/compose.yaml up -d --remove-orphans
"""


def _forwarded_ports(stack: Stack, warnings: list[str]) -> list[tuple[PortMapping, str]]:
    forwards: list[tuple[PortMapping, str]] = []
    for name, service in stack.services.items():
        for port in service.ports:
            if port.published is None:
                warnings.append(
                    f"{name}: port {port.target} has no published port: it is published on "
                    "a random port of the VM only, not forwarded to the server"
                )
            elif port.protocol == "sctp":
                warnings.append(f"{name}: sctp port {port.published} cannot be forwarded")
            else:
                forwards.append((port, name))
    return forwards


def _render_vm(stack: Stack, settings: VagrantConnection) -> RenderedVagrantfile:
    problems = _common_problems(stack)
    warnings: list[str] = []
    for name, service in stack.services.items():
        for volume in service.volumes:
            if volume.type == "bind" and volume.source and not volume.source.startswith("/"):
                warnings.append(
                    f"{name}: bind mount {volume.source} is relative: it resolves inside the "
                    f"VM under {REMOTE_ROOT}, where WindFlow copies no files"
                )
    for kind, entries in (("config", stack.configs), ("secret", stack.secrets)):
        for key, spec in entries.items():
            if spec.file is not None:
                problems.append(f"{kind} {key}: file {spec.file} is not copied into the VM")
    if not _BOX.match(settings.box):
        problems.append(f"box {settings.box!r} is not a box name like debian/bookworm64")
    if settings.private_ip is not None:
        try:
            ipaddress.ip_address(settings.private_ip)
        except ValueError:
            problems.append(f"private_ip {settings.private_ip!r} is not an IP address")
    machine = machine_name(stack_directory(stack.name))
    body = [
        f"  config.vm.define {ruby_str(machine)} do |m|",
        f"    m.vm.box = {ruby_str(settings.box)}",
        f"    m.vm.hostname = {ruby_str(hostname(stack.name))}",
    ]
    if settings.private_ip is not None:
        body.append(f'    m.vm.network "private_network", ip: {ruby_str(settings.private_ip)}')
    ports: list[str] = []
    for port, _service in _forwarded_ports(stack, warnings):
        host_ip = port.host_ip or "127.0.0.1"
        body.append(
            f'    m.vm.network "forwarded_port", guest: {int(port.published or 0)}, '
            f"host: {int(port.published or 0)}, host_ip: {ruby_str(host_ip)}, "
            f"protocol: {ruby_str(port.protocol)}"
        )
        ports.append(f"{host_ip}:{port.published}->{port.published}/{port.protocol}")
    body += [
        f"    m.vm.provider {ruby_str(settings.provider)} do |p|",
        f"      p.cpus = {int(settings.cpus)}",
        f"      p.memory = {int(settings.memory_mb)}",
        "    end",
        '    m.vm.provision "shell", name: "windflow-stack", '
        f"inline: {ruby_str(provision_script(stack))}",
        "  end",
    ]
    if settings.docker_host is not None:
        warnings.append("docker_host is used by the docker provider only")
    block = "\n".join(body)
    text = "\n".join([*_header(stack), block, "end", ""])
    return RenderedVagrantfile(
        stack=stack.name,
        directory=stack_directory(stack.name),
        provider=settings.provider,
        text=text,
        machines=[
            Machine(
                name=machine,
                service=machine,
                kind="vm",
                image=settings.box,
                fingerprint=_digest(block, 64),
                ports=ports,
            )
        ],
        problems=problems,
        warnings=warnings,
    )


# --- the docker provider: one container per service -----------------------------------------


class _DockerRenderer:
    def __init__(self, stack: Stack, settings: VagrantConnection) -> None:
        self.stack = stack
        self.settings = settings
        self.problems = _common_problems(stack)
        self.warnings: list[str] = []
        self.volumes: list[str] = []
        self.shared_network = False

    def render(self) -> RenderedVagrantfile:
        stack = self.stack
        self._target_settings()
        if stack.configs or stack.secrets:
            self.problems.append("configs/secrets need a Swarm or Kubernetes target")
        if len(stack.networks) > 1:
            self.warnings.append(
                "the stack's networks are merged into one Docker network: services on "
                "different networks are not isolated from each other"
            )
        blocks: list[str] = []
        machines: list[Machine] = []
        for layer in dependency_order(stack):
            for name in layer:
                service = stack.services[name]
                block, ports = self._machine(service)
                blocks.append(block)
                machines.append(
                    Machine(
                        name=machine_name(name),
                        service=name,
                        kind="container",
                        image=service.image,
                        fingerprint=_digest(block, 64),
                        ports=ports,
                    )
                )
        text = "\n".join([*_header(stack), *blocks, "end", ""])
        return RenderedVagrantfile(
            stack=stack.name,
            directory=stack_directory(stack.name),
            provider=DOCKER_PROVIDER,
            text=text,
            machines=machines,
            network=network_name(stack.name) if self.shared_network else None,
            volumes=sorted(set(self.volumes)),
            problems=self.problems,
            warnings=self.warnings,
        )

    def _target_settings(self) -> None:
        unused = [
            f"{key}={getattr(self.settings, key)}"
            for key in ("box", "cpus", "memory_mb", "private_ip")
            if getattr(self.settings, key) is not None
        ]
        self.warnings.append(
            f"the docker provider runs each service as a container: {', '.join(unused)} "
            "apply to VM providers only (set limits with deploy.resources instead)"
        )

    def _machine(self, service: Service) -> tuple[str, list[str]]:
        name = service.name
        machine = machine_name(name)
        args: list[str] = [
            "--label",
            f"{STACK_LABEL}={self.stack.name}",
            "--label",
            f"{SERVICE_LABEL}={name}",
        ]
        for key, value in service.labels.items():
            args += ["--label", f"{key}={value}"]
        command = self._command(service, args)
        self._unsupported(service)
        self._runtime(service, args)
        self._network(service, args)
        volumes = self._volumes(service, args)
        ports = [self._port(p) for p in service.ports]
        env = {k: v for k, v in service.environment.items() if v is not None}
        for key in env:
            if "=" in key or not key:
                self.problems.append(f"{name}: environment name {key!r} is not valid")
        lines = [
            f"  config.vm.define {ruby_str(machine)} do |m|",
            f"    m.vm.provider {ruby_str(DOCKER_PROVIDER)} do |d|",
            f"      d.image = {ruby_str(service.image or '')}",
            f"      d.name = {ruby_str(container_name(self.stack.name, machine))}",
        ]
        if command is not None:
            lines.append(f"      d.cmd = {ruby_list(command)}")
        if env:
            lines.append(f"      d.env = {ruby_hash(env)}")
        if ports:
            lines.append(f"      d.ports = {ruby_list(ports)}")
        if service.expose:
            lines.append(f"      d.expose = {ruby_list([str(p) for p in service.expose])}")
        if volumes:
            lines.append(f"      d.volumes = {ruby_list(volumes)}")
        if service.privileged:
            lines.append("      d.privileged = true")
        if service.stop_grace_period is not None:
            lines.append(f"      d.stop_timeout = {max(1, round(service.stop_grace_period))}")
        lines += [
            f"      d.create_args = {ruby_list(args)}",
            "      d.has_ssh = false",
            "      d.remains_running = true",
            "    end",
            "  end",
        ]
        return "\n".join(lines), ports

    def _command(self, service: Service, args: list[str]) -> list[str] | None:
        # `docker run --entrypoint` takes one executable and clears the image's CMD, like
        # compose does when it overrides the entrypoint: the rest becomes the command.
        if service.entrypoint is None:
            return service.command
        if service.entrypoint:
            args += ["--entrypoint", service.entrypoint[0]]
        else:
            args += ["--entrypoint", ""]
        return [*service.entrypoint[1:], *(service.command or [])]

    def _unsupported(self, service: Service) -> None:
        name = service.name
        deploy = service.deploy
        if deploy.replicas is not None and deploy.replicas != 1:
            self.problems.append(
                f"{name}: {deploy.replicas} replicas (one machine per service; machines "
                "do not scale)"
            )
        if deploy.mode == "global":
            self.warnings.append(f"{name}: deploy.mode global means one container here")
        swarm_only = [
            key
            for key in ("update_config", "rollback_config", "restart_policy")
            if getattr(deploy, key) is not None
        ]
        if deploy.placement_constraints:
            swarm_only.append("placement")
        if deploy.labels:
            swarm_only.append("labels")
        if deploy.reservations.cpus:
            swarm_only.append("resources.reservations.cpus")
        if swarm_only:
            self.warnings.append(
                f"{name}: deploy.{', deploy.'.join(swarm_only)} apply to Swarm only: ignored"
            )
        if service.configs or service.secrets:
            self.problems.append(f"{name}: configs/secrets need a Swarm or Kubernetes target")
        if service.profiles:
            self.problems.append(f"{name}: profiles are not supported; remove the service")
        for key in sorted(set(service.extras) - HARMLESS_EXTRAS - set(FLAG_EXTRAS)):
            self.problems.append(f"{name}: '{key}' has no docker provider equivalent")
        for key in sorted(set(service.extras) & HARMLESS_EXTRAS):
            self.warnings.append(f"{name}: '{key}' is ignored (WindFlow names the containers)")
        for condition in sorted(set(service.depends_on.values()) - {"service_started"}):
            self.warnings.append(
                f"{name}: depends_on condition {condition} is approximated: machines come "
                "up in dependency order, without waiting for health or completion"
            )
        for device in service.devices:
            if not isinstance(device, str):
                self.problems.append(f"{name}: device {device!r} needs the short syntax")

    def _runtime(self, service: Service, args: list[str]) -> None:
        pairs: list[tuple[str, str | None]] = [
            ("--restart", service.restart),
            ("--user", service.user),
            ("--workdir", service.working_dir),
            ("--hostname", service.hostname),
            ("--pid", service.pid),
            ("--ipc", service.ipc),
        ]
        pairs += [("--cap-add", c) for c in service.cap_add]
        pairs += [("--cap-drop", c) for c in service.cap_drop]
        pairs += [("--security-opt", s) for s in service.security_opt]
        pairs += [("--add-host", h) for h in service.extra_hosts]
        pairs += [("--tmpfs", t) for t in service.tmpfs]
        pairs += [("--device", d) for d in service.devices if isinstance(d, str)]
        limits = service.deploy.limits
        if limits.cpus:
            pairs.append(("--cpus", f"{limits.cpus:g}"))
        if limits.memory:
            pairs.append(("--memory", f"{int(limits.memory)}b"))
        if service.deploy.reservations.memory:
            pairs.append(("--memory-reservation", f"{int(service.deploy.reservations.memory)}b"))
        for kind, value in service.ulimits.items():
            if isinstance(value, dict):
                pairs.append(("--ulimit", f"{kind}={value.get('soft')}:{value.get('hard')}"))
            else:
                pairs.append(("--ulimit", f"{kind}={value}"))
        if service.logging:
            pairs.append(("--log-driver", service.logging.get("driver")))
            for key, option in (service.logging.get("options") or {}).items():
                pairs.append(("--log-opt", f"{key}={option}"))
        for flag, setting in pairs:
            if setting is not None:
                args += [flag, str(setting)]
        if service.read_only:
            args.append("--read-only")
        for key, flag in FLAG_EXTRAS.items():
            extra = service.extras.get(key)
            if isinstance(extra, bool):
                args += [flag] if extra else []
            elif extra is not None:
                args += [flag, str(extra)]
        self._healthcheck(service, args)

    def _healthcheck(self, service: Service, args: list[str]) -> None:
        check = service.healthcheck
        if check is None:
            return
        if check.disable or check.test[:1] == ["NONE"]:
            args.append("--no-healthcheck")
            return
        if check.test[:1] == ["CMD-SHELL"]:
            args += ["--health-cmd", " ".join(check.test[1:])]
        elif check.test[:1] == ["CMD"]:
            args += ["--health-cmd", shlex.join(check.test[1:])]
            self.warnings.append(
                f"{service.name}: the CMD healthcheck runs through /bin/sh (docker run "
                "only takes a shell command)"
            )
        elif check.test:
            self.problems.append(f"{service.name}: healthcheck test {check.test[0]!r} unknown")
        for flag, seconds in (
            ("--health-interval", check.interval),
            ("--health-timeout", check.timeout),
            ("--health-start-period", check.start_period),
        ):
            if seconds is not None:
                args += [flag, _seconds(seconds)]
        if check.retries is not None:
            args += ["--health-retries", str(check.retries)]

    def _network(self, service: Service, args: list[str]) -> None:
        mode = service.network_mode
        if mode is None:
            self.shared_network = True
            aliases = [service.name, *(a for al in service.networks.values() for a in al)]
            args += ["--network", network_name(self.stack.name)]
            for alias in dict.fromkeys(aliases):
                args += ["--network-alias", alias]
        elif mode.startswith("service:"):
            other = mode.removeprefix("service:")
            args += [
                "--network",
                f"container:{container_name(self.stack.name, machine_name(other))}",
            ]
        else:
            args += ["--network", mode]

    def _volumes(self, service: Service, args: list[str]) -> list[str]:
        out: list[str] = []
        for volume in service.volumes:
            suffix = ":ro" if volume.read_only else ""
            if ":" in volume.target or (volume.source and ":" in volume.source):
                self.problems.append(f"{service.name}: mount paths with ':' cannot be passed")
            elif volume.type == "tmpfs":
                args += ["--tmpfs", volume.target]
            elif volume.source is None:
                out.append(volume.target)
            elif volume.type == "bind":
                if volume.source.startswith("/"):
                    out.append(f"{volume.source}:{volume.target}{suffix}")
                else:
                    self.problems.append(
                        f"{service.name}: bind mount {volume.source} is relative (use an "
                        "absolute path on the Docker host)"
                    )
            else:
                named = self._volume_name(volume.source)
                if named is not None:
                    out.append(f"{named}:{volume.target}{suffix}")
        return out

    def _volume_name(self, volume: str) -> str | None:
        spec = self.stack.volumes.get(volume)
        if spec is not None and (spec.external or spec.name):
            name = spec.name or volume
        else:
            name = f"{stack_directory(self.stack.name)}_{volume}"
            self.volumes.append(name)
        if not _SAFE_VOLUME.match(name):
            self.problems.append(f"volume {volume!r}: {name!r} is not a valid Docker volume name")
            return None
        return name

    def _port(self, port: PortMapping) -> str:
        host = port.host_ip
        if host and ":" in host:
            host = f"[{host}]"
        prefix = f"{host}:" if host else ""
        published = f"{port.published}:" if port.published is not None else ""
        if not published and prefix:
            published = ":"
        return f"{prefix}{published}{port.target}/{port.protocol}"


# --- what changes between the deployed rendering and a new one ---------------------------


def changes_between(
    rendered: RenderedVagrantfile, state: DeployedState | None, states: dict[str, str]
) -> list[PlanChange]:
    before = {m.name: m for m in state.machines} if state else {}
    changes: list[PlanChange] = []
    for machine in rendered.machines:
        old = before.get(machine.name)
        current = states.get(machine.name, "not_created")
        if old is None or current == "not_created":
            changes.append(
                PlanChange(action="create", resource=machine.name, detail=machine.image or "")
            )
        elif old.fingerprint != machine.fingerprint:
            if machine.kind == "vm" and old.image == machine.image:
                detail = "settings changed: reload the VM and re-run provisioning (disk kept)"
                changes.append(PlanChange(action="update", resource=machine.name, detail=detail))
            else:
                detail = "settings changed: destroy and create again"
                if machine.kind == "vm":
                    detail = (
                        f"box {old.image} -> {machine.image}: destroy the VM (its disk is lost)"
                    )
                changes.append(PlanChange(action="recreate", resource=machine.name, detail=detail))
        elif current != "running":
            changes.append(
                PlanChange(action="restart", resource=machine.name, detail=f"start ({current})")
            )
        else:
            changes.append(PlanChange(action="noop", resource=machine.name))
    wanted = {m.name for m in rendered.machines}
    for name in sorted(set(before) - wanted):
        changes.append(
            PlanChange(action="delete", resource=name, detail="not in the stack any more")
        )
    return changes


def deployed_state(rendered: RenderedVagrantfile) -> DeployedState:
    return DeployedState(
        stack=rendered.stack,
        provider=rendered.provider,
        machines=rendered.machines,
        network=rendered.network,
        volumes=rendered.volumes,
    )


def service_of(state: DeployedState | None, machine: str) -> str:
    for entry in state.machines if state else []:
        if entry.name == machine:
            return entry.service
    return machine


def preview(
    rendered: RenderedVagrantfile, changes: list[PlanChange], deployed_text: str | None
) -> VagrantPreview:
    diff = "".join(
        difflib.unified_diff(
            (deployed_text or "").splitlines(keepends=True),
            rendered.text.splitlines(keepends=True),
            fromfile=f"{rendered.directory}/Vagrantfile (deployed)",
            tofile=f"{rendered.directory}/Vagrantfile (proposed)",
        )
    )
    return VagrantPreview(
        stack=rendered.stack,
        provider=rendered.provider,
        changes=changes,
        diff=bound_text(diff, 60_000)[0],
        warnings=rendered.warnings,
    )
