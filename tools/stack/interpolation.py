"""Compose variable interpolation and ``.env`` files.

Supports ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR?error}``, ``${VAR:+replacement}``, ``${VAR+replacement}`` (defaults may nest) and
``$$`` for a literal dollar. The environment is passed in; nothing reads os.environ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tools.stack.errors import ComposeError, Issue
from tools.stack.loader import Document, PathKey, dotted

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$")


def parse_env_file(text: str, *, file: str = ".env") -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.match(raw)
        if match is None:
            raise ComposeError.at(
                f"not a KEY=VALUE line: {raw.strip()[:60]!r}",
                line=number,
                file=file,
                hint="use KEY=VALUE, one per line",
            )
        key, value = match[1], match[2].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.sub(r"\s+#.*$", "", value)
        values[key] = value
    return values


class _Interpolator:
    def __init__(self, env: Mapping[str, str], document: Document) -> None:
        self.env = env
        self.document = document
        self.issues: list[Issue] = []

    def _braced(self, text: str, start: int, path: PathKey) -> tuple[str, int]:
        """Expand ``${...}`` starting at text[start] == '{'; returns (value, index after '}')."""
        name_match = _NAME.match(text, start + 1)
        if name_match is None:
            raise self.document.error(f"invalid variable reference in {text!r}", path)
        name = name_match.group()
        position = name_match.end()
        operator = ""
        for candidate in (":-", ":?", ":+", "-", "?", "+"):
            if text.startswith(candidate, position):
                operator = candidate
                position += len(candidate)
                break
        argument, depth, scan = "", 1, position
        while scan < len(text):
            char = text[scan]
            if char == "$" and text.startswith("${", scan):
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    break
            scan += 1
        if depth != 0:
            raise self.document.error(f"unclosed '${{' in {text!r}", path, hint="close it with }")
        argument = text[position:scan]
        if operator == "" and argument:
            raise self.document.error(f"invalid variable reference in {text!r}", path)
        value = self.env.get(name)
        empty = not value
        if operator in (":-", "-"):
            use_default = empty if operator == ":-" else value is None
            return (self.expand(argument, path) if use_default else str(value)), scan + 1
        if operator in (":?", "?"):
            missing = empty if operator == ":?" else value is None
            if missing:
                message = self.expand(argument, path) or "is required"
                self.issues.append(
                    Issue(
                        f"variable {name} {message}",
                        dotted(path),
                        self.document.line_of(path),
                    )
                )
                return "", scan + 1
            return str(value), scan + 1
        if operator in (":+", "+"):
            present = not empty if operator == ":+" else value is not None
            return (self.expand(argument, path) if present else ""), scan + 1
        return (value or ""), scan + 1

    def expand(self, text: str, path: PathKey) -> str:
        out: list[str] = []
        index = 0
        while index < len(text):
            char = text[index]
            if char != "$":
                out.append(char)
                index += 1
                continue
            following = text[index + 1 : index + 2]
            if following == "$":
                out.append("$")
                index += 2
            elif following == "{":
                value, index = self._braced(text, index + 1, path)
                out.append(value)
            else:
                name = _NAME.match(text, index + 1)
                if name is None:
                    out.append("$")
                    index += 1
                else:
                    out.append(self.env.get(name.group(), ""))
                    index = name.end()
        return "".join(out)

    def walk(self, value: Any, path: PathKey) -> Any:
        if isinstance(value, str):
            return self.expand(value, path)
        if isinstance(value, dict):
            return {k: self.walk(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, (*path, i)) for i, v in enumerate(value)]
        return value


def interpolate(document: Document, env: Mapping[str, str]) -> Document:
    interpolator = _Interpolator(env, document)
    data = interpolator.walk(document.data, ())
    if interpolator.issues:
        raise ComposeError(
            interpolator.issues,
            file=document.file,
            hint="set the variables in the environment or the .env file",
        )
    return Document(data=data, lines=document.lines, file=document.file)
