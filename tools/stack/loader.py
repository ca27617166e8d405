"""Parsing compose YAML while remembering the line of every key, for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tools.stack.errors import ComposeError, Issue

MAX_COMPOSE_BYTES = 1_048_576
PathKey = tuple[str | int, ...]


def dotted(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class Document:
    data: dict[str, Any]
    lines: dict[PathKey, int] = field(default_factory=dict)
    file: str | None = None

    def line_of(self, path: PathKey) -> int | None:
        """The line of ``path`` or of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def error(self, message: str, path: PathKey, hint: str | None = None) -> ComposeError:
        return ComposeError.at(
            message, path=dotted(path) or None, line=self.line_of(path), file=self.file, hint=hint
        )


def _index(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], issues: list[Issue]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key == "<<":
                continue
            if key in seen:
                issues.append(
                    Issue(
                        f"duplicate key {key!r} (first defined on line {seen[key]})",
                        dotted((*path, key)),
                        line,
                    )
                )
            seen[key] = line
            _index(value_node, (*path, key), lines, issues)
            lines[(*path, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index(item, (*path, position), lines, issues)


def parse(text: str, *, file: str | None = None) -> Document:
    if len(text.encode()) > MAX_COMPOSE_BYTES:
        raise ComposeError.at(
            f"the compose file is larger than {MAX_COMPOSE_BYTES // 1024} KiB",
            file=file,
            hint="split it, or move large content into config files",
        )
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ComposeError.at("the compose file is empty", file=file, hint="define services:")
        lines: dict[PathKey, int] = {}
        issues: list[Issue] = []
        _index(node, (), lines, issues)
        if issues:
            raise ComposeError(issues, file=file, hint="each key may appear once per mapping")
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise ComposeError.at(
            f"malformed YAML: {problem}", line=line, file=file, hint="check indentation and quotes"
        ) from exc
    except yaml.YAMLError as exc:
        raise ComposeError.at(f"malformed YAML: {exc}", file=file) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ComposeError.at(
            f"the top level must be a mapping, not {type(data).__name__}",
            line=1,
            file=file,
            hint="a compose file starts with keys such as services:",
        )
    return Document(data=data, lines=lines, file=file)
