"""``extends`` between services of the same file, with compose's merge rules.

Mappings merge key by key (list-form mappings such as ``environment: [A=1]`` included),
sequences append without duplicates, ``ports``/``volumes``/``secrets``/``configs`` merge
by their identity (so the extending service can change a mount's mode), ``command``,
``entrypoint`` and ``healthcheck.test`` are replaced, and scalars are overridden.
Everything of the base is inherited, ``depends_on`` included, as ``docker compose`` does.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from tools.stack.loader import Document, PathKey
from tools.stack.syntax import port_key, volume_key

_REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test")}
_LIST_OR_DICT = {
    ("environment",),
    ("labels",),
    ("annotations",),
    ("sysctls",),
    ("extra_hosts",),
    ("build", "args"),
    ("build", "labels"),
    ("deploy", "labels"),
}
_STRING_OR_LIST = {("dns",), ("dns_search",), ("tmpfs",), ("env_file",), ("label_file",)}


def _ref_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target") or item.get("source")
    return item


_KEYED: dict[PathKey, Callable[[Any], Any]] = {
    ("ports",): port_key,
    ("volumes",): volume_key,
    ("secrets",): _ref_key,
    ("configs",): _ref_key,
}


def _hashable(key: Any) -> Any:
    # Schema validation runs after extends, so malformed entries must not crash here.
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


def _as_mapping(value: Any, key: PathKey) -> Any:
    """Turn the list spelling of a mapping into the mapping, so both sides merge."""
    if key == ("depends_on",) and isinstance(value, list):
        return {name: {"condition": "service_started"} for name in value}
    if key == ("networks",) and isinstance(value, list):
        return dict.fromkeys(value)
    if key == ("build",) and isinstance(value, str):
        return {"context": value}
    if key in _LIST_OR_DICT and isinstance(value, list):
        mapping: dict[str, Any] = {}
        for entry in value:
            text = str(entry)
            # extra_hosts also accepts the older "host:ip"; everything else is KEY=VALUE.
            cut = text.find(":") if key == ("extra_hosts",) and "=" not in text else text.find("=")
            mapping[text[:cut] if cut >= 0 else text] = text[cut + 1 :] if cut >= 0 else None
        return mapping
    if key in _STRING_OR_LIST and isinstance(value, str):
        return [value]
    return value


def merge(base: Any, override: Any, key: PathKey = ()) -> Any:
    """Merge ``override`` (the extending service) onto ``base``; key is the path within."""
    base, override = _as_mapping(base, key), _as_mapping(override, key)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge(base[name], value, (*key, name)) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED:
        identity = _KEYED.get(key)
        if identity is None:
            return base + [item for item in override if item not in base]
        replacements = {_hashable(identity(item)): item for item in override}
        kept = [replacements.pop(_hashable(identity(item)), item) for item in base]
        return kept + [item for item in override if _hashable(identity(item)) in replacements]
    return override


def _parent_of(document: Document, name: str, services: dict[str, Any]) -> str:
    spec = services[name]["extends"]
    path = ("services", name, "extends")
    if isinstance(spec, dict):
        other = spec.get("file")
        if other and not _same_file(other, document.file):
            raise document.error(
                f"extends from another file ({other}) is not supported",
                (*path, "file"),
                hint="copy the base service into this file, or use YAML anchors",
            )
        parent = spec.get("service")
    else:
        parent = spec
    if not isinstance(parent, str) or parent not in services:
        known = ", ".join(sorted(services))
        raise document.error(
            f"extends names an unknown service {parent!r}", path, hint=f"services: {known}"
        )
    return parent


def _same_file(other: str, current: str | None) -> bool:
    """``extends: {file: ./compose.yml}`` written inside compose.yml itself."""
    if current is None:
        return False
    here = posixpath.dirname(current)
    return posixpath.normpath(posixpath.join(here, other)) == posixpath.normpath(current)


def resolve_extends(document: Document) -> Document:
    """Apply every ``extends``; a cycle or an unknown base is a ComposeError."""
    services = document.data.get("services")
    if not isinstance(services, dict):
        return document
    resolved: dict[str, Any] = {}
    lines = dict(document.lines)

    def resolve(name: str, chain: tuple[str, ...]) -> Any:
        if name in resolved:
            return resolved[name]
        service = services[name]
        if not isinstance(service, dict) or "extends" not in service:
            resolved[name] = service
            return service
        parent = _parent_of(document, name, services)
        if parent == name or parent in chain:
            loop = chain[chain.index(parent) :] if parent in chain else ()
            cycle = " -> ".join((*loop, name, parent))
            raise document.error(
                f"extends forms a cycle: {cycle}",
                ("services", name, "extends"),
                hint="make one of these services stand alone",
            )
        base = resolve(parent, (*chain, name))
        own = {key: value for key, value in service.items() if key != "extends"}
        resolved[name] = merge(base if isinstance(base, dict) else {}, own)
        # Inherited keys point at the base's lines, so later errors still name a line.
        base_prefix = ("services", parent)
        for path, line in list(lines.items()):
            if path[:2] == base_prefix and len(path) > 2 and path[2] not in own:
                lines.setdefault(("services", name, *path[2:]), line)
        return resolved[name]

    for name in services:
        resolve(name, ())
    data = {**document.data, "services": {name: resolved[name] for name in services}}
    return Document(data=data, lines=lines, file=document.file)
