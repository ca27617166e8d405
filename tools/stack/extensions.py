"""``x-*`` extension keys nested inside typed compose attributes, by JSON pointer.

The typed model has no place for ``deploy.placement.x-aws-role``; rather than drop it,
normalization records it as ``{"/deploy/placement/x-aws-role": ...}`` and rendering
puts it back, so a load/dump round trip keeps every extension (RFC 6901 pointers).
"""

from __future__ import annotations

from typing import Any


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer(*tokens: str | int) -> str:
    return "".join(f"/{_escape(token)}" for token in tokens)


def collect(value: Any, prefix: str) -> dict[str, Any]:
    """Every x-* key under ``value`` (not inside other x-* values), keyed by pointer."""
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).startswith("x-"):
                found[f"{prefix}/{_escape(key)}"] = item
            else:
                found.update(collect(item, f"{prefix}/{_escape(key)}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(collect(item, f"{prefix}/{index}"))
    return found


def without(value: Any) -> Any:
    """``value`` with every x-* key removed, at any depth."""
    if isinstance(value, dict):
        return {k: without(v) for k, v in value.items() if not str(k).startswith("x-")}
    if isinstance(value, list):
        return [without(item) for item in value]
    return value


def apply(target: dict[str, Any], extensions: dict[str, Any]) -> None:
    """Put extensions back into a rendered mapping, creating the mappings they sit in."""
    for path, value in extensions.items():
        tokens = [_unescape(token) for token in path.split("/")[1:]]
        node: Any = target
        for token in tokens[:-1]:
            if isinstance(node, list):
                index = int(token)
                # Rendering writes list items that can carry extensions as mappings.
                if not isinstance(node[index], dict):
                    node[index] = {}
                node = node[index]
            else:
                if not isinstance(node.get(token), (dict, list)):
                    node[token] = {}
                node = node[token]
        if isinstance(node, dict):
            node[tokens[-1]] = value
