"""``extends`` between services of the same file, with compose's merge rules."""

from __future__ import annotations

from typing import Any

from tools.stack.loader import Document

# Sequences whose entries are appended (without duplicates) rather than replaced.
_APPENDED = {
    "ports",
    "expose",
    "volumes",
    "dns",
    "dns_search",
    "cap_add",
    "cap_drop",
    "devices",
    "security_opt",
    "tmpfs",
    "external_links",
    "links",
    "env_file",
    "configs",
    "secrets",
}


_MAPPINGS = {"environment", "labels", "extra_hosts", "annotations"}


def _as_mapping(value: Any) -> Any:
    if isinstance(value, list):
        pairs = (str(item).partition("=") for item in value)
        return {key: (rest if sep else None) for key, sep, rest in pairs}
    return value


def _merge(base: Any, override: Any, key: str | None = None) -> Any:
    if key in _MAPPINGS:
        base, override = _as_mapping(base), _as_mapping(override)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = _merge(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list) and key in _APPENDED:
        return base + [item for item in override if item not in base]
    return override


def resolve_extends(document: Document) -> Document:
    services = document.data.get("services")
    if not isinstance(services, dict):
        return document
    resolved: dict[str, Any] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> Any:
        if name in resolved:
            return resolved[name]
        service = services[name]
        if not isinstance(service, dict) or "extends" not in service:
            resolved[name] = service
            return service
        spec = service["extends"]
        path = ("services", name, "extends")
        if isinstance(spec, dict):
            if spec.get("file"):
                raise document.error(
                    f"extends from another file ({spec['file']}) is not supported",
                    path,
                    hint="copy the base service into this file",
                )
            parent = spec.get("service")
        else:
            parent = spec
        if not isinstance(parent, str) or parent not in services:
            raise document.error(
                f"extends names an unknown service {parent!r}",
                path,
                hint=f"services in this file: {', '.join(sorted(services))}",
            )
        if parent in chain or parent == name:
            cycle = " -> ".join((*chain, name, parent))
            raise document.error(f"extends forms a cycle: {cycle}", path)
        base = resolve(parent, (*chain, name))
        own = {k: v for k, v in service.items() if k != "extends"}
        base = {k: v for k, v in base.items() if k not in ("depends_on", "extends")}
        resolved[name] = _merge(base, own)
        return resolved[name]

    new_services = {name: resolve(name, ()) for name in services}
    return Document(
        data={**document.data, "services": new_services}, lines=document.lines, file=document.file
    )
