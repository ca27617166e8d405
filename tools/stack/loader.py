"""Parsing compose YAML while remembering the line of every key, for error messages.

Compose tools parse YAML like YAML 1.2 (Go's yaml.v3): ``no``/``on`` stay strings and
``22:22`` is not the sexagesimal number 1342. PyYAML's SafeLoader is YAML 1.1, so the
loader here swaps those resolvers out; otherwise ``restart: no`` would fail validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.stack.errors import ComposeError, ComposeTooLarge, Issue

MAX_COMPOSE_BYTES = 1_048_576
# Aliases are walked once per use, so a "billion laughs" file stays small as text but
# explodes as a tree; every later stage walks the tree, so it is bounded here, once.
MAX_NODES = 200_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_VALUE = "tag:yaml.org,2002:value"
_REPLACED = {_BOOL, _INT, _FLOAT, _TIMESTAMP, _VALUE}


def dotted(path: PathKey) -> str:
    """``services.web.ports[0]``; keys that are not plain words are bracketed and quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text


class ComposeLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, string keys, and line indexing of the node tree."""

    yaml_implicit_resolvers = {  # noqa: RUF012 (PyYAML's own class-level registry)
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:  # type: ignore[override]
        # Keys are taken as written: "1: x" and "on: x" become "1" and "on", as in compose.
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping keys must be plain strings", key_node.start_mark
                )
            mapping[str(key_node.value)] = self.construct_object(value_node, deep=deep)
        return mapping


ComposeLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
ComposeLoader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
ComposeLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@dataclass
class Document:
    """Parsed compose data plus the source line of every path, for locating errors."""

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

    def issue(self, problem: str, path: PathKey, hint: str | None = None) -> Issue:
        return Issue(problem, dotted(path) or None, self.line_of(path), hint)

    def error(self, problem: str, path: PathKey, hint: str | None = None) -> ComposeError:
        return ComposeError(
            problem,
            file=self.file,
            path=dotted(path) or None,
            line=self.line_of(path),
            hint=hint,
        )

    def with_data(self, data: dict[str, Any]) -> Document:
        return Document(data=data, lines=self.lines, file=self.file)


class _Indexer:
    """Walks the composed node tree: lines per path, duplicate keys, size limits."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.lines: dict[PathKey, int] = {}
        self.issues: list[Issue] = []
        self.visited = 0

    def _record(self, path: PathKey, line: int, weak: bool) -> None:
        if weak:
            self.lines.setdefault(path, line)
        else:
            self.lines[path] = line

    def walk(self, node: yaml.Node, path: PathKey, weak: bool = False) -> None:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise ComposeError(
                f"the compose file expands to more than {MAX_NODES} YAML nodes",
                file=self.file,
                hint="anchors and aliases multiply content; write the values out instead",
            )
        if len(path) > MAX_DEPTH:
            raise ComposeError(
                f"the compose file nests deeper than {MAX_DEPTH} levels",
                file=self.file,
                path=dotted(path[:4]) + "...",
                line=node.start_mark.line + 1,
                hint="a recursive alias, or a structure no compose key expects",
            )
        self._record(path, node.start_mark.line + 1, weak)
        if isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                self.walk(item, (*path, position), weak)
        elif isinstance(node, yaml.MappingNode):
            self._mapping(node, path, weak)

    def _mapping(self, node: yaml.MappingNode, path: PathKey, weak: bool) -> None:
        seen: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merges.append(value_node)
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen and not weak:
                self.issues.append(
                    Issue(
                        f"duplicate key {key!r} (first defined on line {seen[key]})",
                        dotted((*path, key)),
                        line,
                        "each key may appear once per mapping; merge the two entries",
                    )
                )
            seen.setdefault(key, line)
            self.walk(value_node, (*path, key), weak)
            # The key's line reads better in messages than the line its value starts on.
            self._record((*path, key), line, weak)
        # Keys merged in with "<<" lose to explicit keys, so their lines are weak too.
        for merged in merges:
            sources = merged.value if isinstance(merged, yaml.SequenceNode) else [merged]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    self._mapping(source, path, weak=True)


def check_size(size: int, file: str | None) -> None:
    """Refuse input over MAX_COMPOSE_BYTES (compose files, .env and env_file contents)."""
    if size > MAX_COMPOSE_BYTES:
        raise ComposeTooLarge(
            f"the input is {size} bytes, over the {MAX_COMPOSE_BYTES // 1024} KiB limit",
            file=file,
            hint="split the stack, or move large content (configs, scripts) into files",
        )


def parse(text: str, *, file: str | None = None) -> Document:
    """Parse compose YAML text; raises ComposeError naming the file and line."""
    check_size(len(text) if len(text) > MAX_COMPOSE_BYTES else len(text.encode()), file)
    loader = ComposeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ComposeError(
                "the compose file is empty", file=file, hint="define at least services:"
            )
        indexer = _Indexer(file)
        indexer.walk(node, ())
        if indexer.issues:
            raise ComposeError.from_issues(indexer.issues, file=file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ComposeError(
            f"malformed YAML: {problem or 'cannot parse'}",
            file=file,
            line=mark.line + 1 if mark else None,
            hint="check indentation (spaces, not tabs), colons and quotes near that line",
        ) from exc
    except yaml.YAMLError as exc:
        raise ComposeError(f"malformed YAML: {exc}", file=file) from exc
    except RecursionError as exc:
        raise ComposeError(
            "the YAML nests too deeply to parse", file=file, hint="flatten the structure"
        ) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ComposeError(
            f"the top level must be a mapping, not {type(data).__name__}",
            file=file,
            line=1,
            hint="a compose file starts with keys such as services:",
        )
    return Document(data=data, lines=indexer.lines, file=file)


def read_text(path: Path, *, file: str | None = None) -> str:
    """Read a compose or env file, refusing oversized or non-UTF-8 content."""
    label = file or str(path)
    try:
        check_size(path.stat().st_size, label)
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ComposeError(
            "the file does not exist", file=label, hint="check the path and the working directory"
        ) from exc
    except OSError as exc:
        raise ComposeError(f"cannot read the file: {exc.strerror}", file=label) from exc
    check_size(len(raw), label)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ComposeError(
            f"the file is not UTF-8 text (byte {exc.start})",
            file=label,
            hint="save it as UTF-8",
        ) from exc


def parse_file(path: Path, *, file: str | None = None) -> Document:
    label = file or str(path)
    return parse(read_text(path, file=label), file=label)
