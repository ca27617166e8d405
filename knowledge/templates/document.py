"""Compose YAML as data: parse with the stack loader's rules, rewrite strings, dump back.

Parsing goes through ``tools.stack.loader.parse`` so YAML 1.2 scalars (``restart: no``)
and duplicate keys behave exactly as when the stack is deployed. Dumping writes block
style, keeps key order, and uses ``|`` blocks for multi-line strings (scripts, configs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from tools.stack.loader import parse


def load(text: str, *, file: str | None = None) -> dict[str, Any]:
    """The compose mapping; raises ``ComposeError`` naming the file and line."""
    return parse(text, file=file).data


def map_strings(data: Any, change: Callable[[str], Any]) -> Any:
    """A copy of ``data`` with every string value (not mapping keys) passed to ``change``."""
    if isinstance(data, str):
        return change(data)
    if isinstance(data, dict):
        return {key: map_strings(value, change) for key, value in data.items()}
    if isinstance(data, list):
        return [map_strings(item, change) for item in data]
    return data


def strings(data: Any) -> list[str]:
    """Every string value in ``data``, in document order."""
    found: list[str] = []

    def collect(text: str) -> str:
        found.append(text)
        return text

    map_strings(data, collect)
    return found


class _Dumper(yaml.SafeDumper):
    """SafeDumper that indents lists under their key and writes multi-line text as ``|``."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        # PyYAML falls back to a quoted string when a block cannot hold the value exactly.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _none(dumper: yaml.SafeDumper, value: None) -> yaml.ScalarNode:
    # "volumes: {data: }" reads better than "data: null" and means the same.
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


class _Flow(list[Any]):
    """A list written on one line, like ``test: [CMD, pg_isready]``."""


_FLOW_KEYS = ("test", "command", "entrypoint")


def _short(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(item, str | int | float) and "\n" not in str(item) for item in value)
        and sum(len(str(item)) + 2 for item in value) <= 80
    )


def _mark_flow(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: _Flow(value) if key in _FLOW_KEYS and _short(value) else _mark_flow(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_mark_flow(item) for item in data]
    return data


def _flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(_Flow, _flow)
_Dumper.add_representer(type(None), _none)


def dump(data: dict[str, Any]) -> str:
    """Block-style YAML; strings YAML 1.1 would misread (``no``, ``0755``) are quoted."""
    return yaml.dump(
        _mark_flow(data),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
