"""The short and long syntaxes of ports and volumes, parsed into the typed model.

Each function raises :class:`SyntaxProblem` (what is wrong, how to fix it); the caller
knows the path and line and turns it into a ComposeError.
"""

from __future__ import annotations

import ipaddress
from typing import Any, cast, get_args

from tools.stack.model import (
    BindOptions,
    PortMapping,
    Protocol,
    TmpfsOptions,
    VolumeMount,
    VolumeOptions,
)
from tools.stack.units import labels, parse_bool, parse_bytes, parse_int, parse_mode

PORT_HINT = 'use [HOST_IP:][HOST:]CONTAINER[/PROTOCOL], e.g. "8080:80" or "127.0.0.1:8080:80"'
VOLUME_HINT = (
    'use SOURCE:TARGET[:MODE] or TARGET, e.g. "data:/var/lib/data" or "./conf:/etc/app:ro"'
)
_PROPAGATION = {"shared", "slave", "private", "rshared", "rslave", "rprivate"}
_CONSISTENCY = {"consistent", "cached", "delegated"}
_UNSUPPORTED_MOUNTS = {"npipe", "cluster", "image"}


class SyntaxProblem(ValueError):
    def __init__(self, problem: str, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


def _port_range(text: str, item: str) -> list[int]:
    start, dash, end = text.partition("-")
    try:
        first, last = int(start), int(end) if dash else int(start)
    except ValueError:
        raise SyntaxProblem(f"{item!r} is not a valid port mapping", PORT_HINT) from None
    for number in (first, last):
        if not 1 <= number <= 65535:
            raise SyntaxProblem(f"{item!r}: port {number} is outside 1-65535", PORT_HINT)
    if last < first:
        raise SyntaxProblem(f"{item!r}: the range {text} runs backwards", PORT_HINT)
    return list(range(first, last + 1))


def _host_ip(text: str, item: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        raise SyntaxProblem(
            f"{item!r} is not a valid port mapping: {text!r} is not an IP address", PORT_HINT
        ) from None


def _protocol(text: str, item: str) -> Protocol:
    protocol = text.lower()
    if protocol not in get_args(Protocol):
        raise SyntaxProblem(f"{item!r}: unknown protocol {text!r}", "use tcp, udp or sctp")
    return cast(Protocol, protocol)


def parse_short_port(item: str | int | float) -> list[PortMapping]:
    """``"127.0.0.1:8000-8001:80-81/udp"`` and friends; ranges become one mapping per port."""
    if isinstance(item, (bool, float)):
        raise SyntaxProblem(f"{item!r} is not a valid port mapping", PORT_HINT)
    text = str(item).strip()
    body, slash, protocol_text = text.partition("/")
    protocol = _protocol(protocol_text, text) if slash else "tcp"
    host_ip: str | None = None
    if body.startswith("["):
        address, bracket, rest = body[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise SyntaxProblem(f"{text!r} is not a valid port mapping", PORT_HINT)
        host_ip, body = _host_ip(address, text), rest[1:]
        if ":" not in body:
            raise SyntaxProblem(f"{text!r} names a host IP but no host port", PORT_HINT)
    # Docker reads from the right: CONTAINER, then HOST, and whatever is left is the IP.
    parts = body.rsplit(":", 2)
    if len(parts) == 3:
        host_ip = _host_ip(parts[0], text) if parts[0] else None
    published_text = parts[-2] if len(parts) >= 2 else ""
    targets = _port_range(parts[-1], text)
    published = _port_range(published_text, text) if published_text else []
    if published and len(published) != len(targets):
        if len(targets) == 1:
            raise SyntaxProblem(
                f"{text!r}: publishing one container port on any of a host range is not supported",
                "name one host port, e.g. 8080:80",
            )
        raise SyntaxProblem(f"{text!r}: the host and container ranges differ in length", PORT_HINT)
    return [
        PortMapping(
            target=target,
            published=published[index] if published else None,
            host_ip=host_ip,
            protocol=protocol,
        )
        for index, target in enumerate(targets)
    ]


def parse_long_port(item: dict[str, Any]) -> PortMapping:
    """The mapping form: target, published, host_ip, protocol, mode, name, app_protocol."""
    try:
        target = parse_int(item["target"], minimum=1)
        raw_published = item.get("published")
        published = parse_int(raw_published, minimum=1) if raw_published not in (None, "") else None
    except KeyError:
        raise SyntaxProblem("a port needs a target", "add target: CONTAINER_PORT") from None
    except ValueError as exc:
        raise SyntaxProblem(
            f"invalid port: {exc}", "target and published are single port numbers"
        ) from None
    if target > 65535 or (published or 0) > 65535:
        raise SyntaxProblem("ports must be within 1-65535")
    mode = item.get("mode")
    if mode not in (None, "ingress", "host"):
        raise SyntaxProblem(f"unknown port mode {mode!r}", "use ingress or host")
    host_ip = item.get("host_ip")
    return PortMapping(
        target=target,
        published=published,
        host_ip=_host_ip(host_ip, str(item)) if host_ip else None,
        protocol=_protocol(item.get("protocol", "tcp"), str(item)),
        mode=mode,
        name=item.get("name"),
        app_protocol=item.get("app_protocol"),
    )


def is_host_path(source: str) -> bool:
    """Compose's rule: a short-syntax source is a host path if it looks like one."""
    return source.startswith((".", "/", "~")) or (len(source) > 1 and source[1] == ":")


def parse_short_volume(item: str) -> VolumeMount:
    parts = item.split(":")
    if len(parts) == 1:
        if not item:
            raise SyntaxProblem("an empty volume entry", VOLUME_HINT)
        return VolumeMount(type="volume", target=item)
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise SyntaxProblem(f"{item!r} is not a valid volume", VOLUME_HINT)
    source, target = parts[0], parts[1]
    kind = "bind" if is_host_path(source) else "volume"
    read_only, nocopy = False, False
    selinux: str | None = None
    propagation: str | None = None
    consistency: str | None = None
    for flag in parts[2].split(",") if len(parts) == 3 else []:
        if flag in ("ro", "rw"):
            read_only = flag == "ro"
        elif flag in ("z", "Z") and kind == "bind":
            selinux = flag
        elif flag in _PROPAGATION and kind == "bind":
            propagation = flag
        elif flag == "nocopy" and kind == "volume":
            nocopy = True
        elif flag in _CONSISTENCY:
            consistency = flag
        else:
            raise SyntaxProblem(
                f"{item!r}: unknown or misplaced mode {flag!r} for a {kind}",
                "modes: ro, rw; z, Z and propagation for host paths; nocopy for volumes",
            )
    return VolumeMount(
        type=kind,
        source=source,
        target=target,
        read_only=read_only,
        consistency=consistency,
        bind=BindOptions(create_host_path=True, selinux=selinux, propagation=propagation)
        if kind == "bind"
        else None,
        volume=VolumeOptions(nocopy=True) if nocopy else None,
    )


def parse_long_volume(item: dict[str, Any]) -> VolumeMount:
    kind = item.get("type", "volume")
    if kind in _UNSUPPORTED_MOUNTS:
        raise SyntaxProblem(
            f"{kind} mounts are not supported by WindFlow", "use a bind, volume or tmpfs mount"
        )
    if "target" not in item:
        raise SyntaxProblem("a mount needs a target", "add target: /path/in/container")
    if kind == "bind" and not item.get("source"):
        raise SyntaxProblem("a bind mount needs a source", "add source: ./host/path")
    if kind == "tmpfs" and item.get("source"):
        raise SyntaxProblem("a tmpfs mount takes no source", "remove source:")
    try:
        bind, volume, tmpfs = item.get("bind"), item.get("volume"), item.get("tmpfs")
        return VolumeMount(
            type=kind,
            source=item.get("source"),
            target=item["target"],
            read_only=parse_bool(item.get("read_only", False)),
            consistency=item.get("consistency"),
            bind=BindOptions(
                propagation=bind.get("propagation"),
                create_host_path=parse_bool(bind["create_host_path"])
                if "create_host_path" in bind
                else None,
                selinux=bind.get("selinux"),
                recursive=bind.get("recursive"),
            )
            if isinstance(bind, dict)
            else None,
            volume=VolumeOptions(
                nocopy=parse_bool(volume.get("nocopy", False)),
                subpath=volume.get("subpath"),
                labels=labels(volume.get("labels")),
            )
            if isinstance(volume, dict)
            else None,
            tmpfs=TmpfsOptions(
                size=parse_bytes(tmpfs["size"]) if tmpfs.get("size") is not None else None,
                mode=parse_mode(tmpfs["mode"]) if tmpfs.get("mode") is not None else None,
            )
            if isinstance(tmpfs, dict)
            else None,
        )
    except ValueError as exc:
        raise SyntaxProblem(f"invalid mount: {exc}") from None


def volume_key(item: Any) -> Any:
    """What makes two volume entries "the same" when merging: the container path."""
    if isinstance(item, dict):
        return item.get("target")
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def port_key(item: Any) -> Any:
    """What makes two port entries "the same" when merging: ip, ports and protocol."""
    try:
        mappings = [parse_long_port(item)] if isinstance(item, dict) else parse_short_port(item)
    except SyntaxProblem:
        return repr(item)
    return tuple((m.host_ip, m.published, m.target, m.protocol) for m in mappings)
