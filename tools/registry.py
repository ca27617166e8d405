"""The tool registry: every tool WindFlow has, and their function-calling schemas."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tools.base import Tool
from tools.targets import TargetKind
from windflow.errors import NotFound


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool[Any, Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any, Any]] = {}
        for item in tools:
            self.register(item)

    def register(self, item: Tool[Any, Any]) -> None:
        if item.name in self._tools:
            raise ValueError(f"two tools are named {item.name!r}")
        self._tools[item.name] = item

    def get(self, name: str) -> Tool[Any, Any]:
        found = self._tools.get(name)
        if found is None:
            raise NotFound(
                f"there is no tool named {name!r}",
                hint=f"known tools: {', '.join(sorted(self._tools)) or 'none'}",
            )
        return found

    def __iter__(self) -> Iterator[Tool[Any, Any]]:
        return iter(sorted(self._tools.values(), key=lambda t: t.name))

    def __len__(self) -> int:
        return len(self._tools)

    def for_kind(self, kind: TargetKind | None) -> list[Tool[Any, Any]]:
        return [t for t in self if kind is None or kind in t.targets]

    def schemas(self, tools: Iterable[Tool[Any, Any]]) -> list[dict[str, Any]]:
        return [t.function_schema() for t in tools]
