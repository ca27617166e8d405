"""Compose variable interpolation and ``.env`` files.

Templates: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR?error}``, ``${VAR:+replacement}``, ``${VAR+replacement}`` (arguments may nest) and
``$$`` for a literal dollar. The environment is always passed in: nothing here reads
``os.environ``, so what a stack resolves to depends only on what the caller supplies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tools.stack.errors import ComposeError, Issue
from tools.stack.loader import Document, PathKey, check_size, dotted

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:(=)(.*))?$")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}
_UNSET_HINT = "set it in the environment or the .env file, or give a default: ${NAME:-value}"


class TemplateError(Exception):
    """A template could not be expanded; ``hint`` says how to fix it."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


Lookup = Callable[[str], str | None]


class Template:
    """Expands compose templates against a lookup; strict mode refuses a stray ``$``.

    Compose files are strict, like ``docker compose`` ("invalid interpolation format");
    .env files are lenient, because passwords with a ``$`` in them are common there.
    """

    def __init__(self, lookup: Lookup, *, strict: bool = True) -> None:
        self._lookup = lookup
        self.strict = strict

    def lookup(self, name: str) -> str | None:
        # Callers pass API parameters as environments; a number there must not break joins.
        value = self._lookup(name)
        return None if value is None else str(value)

    def expand(self, text: str) -> str:
        out: list[str] = []
        index = 0
        while index < len(text):
            dollar = text.find("$", index)
            if dollar < 0:
                out.append(text[index:])
                break
            out.append(text[index:dollar])
            following = text[dollar + 1 : dollar + 2]
            if following == "$":
                out.append("$")
                index = dollar + 2
            elif following == "{":
                value, index = self._braced(text, dollar + 2)
                out.append(value)
            elif (name := _NAME.match(text, dollar + 1)) is not None:
                out.append(self.lookup(name.group()) or "")  # unset: empty, as in compose
                index = name.end()
            elif self.strict:
                raise TemplateError(
                    f"invalid interpolation in {text!r}: a '$' must start a variable",
                    "write a literal dollar sign as $$",
                )
            else:
                out.append("$")
                index = dollar + 1
        return "".join(out)

    def _closing(self, text: str, start: int) -> int:
        """Index of the '}' closing a '${' whose content starts at ``start``, or -1."""
        depth, index = 1, start
        while index < len(text):
            if text.startswith("$$", index):
                index += 2
                continue
            if text.startswith("${", index):
                depth += 1
                index += 2
                continue
            if text[index] == "}":
                depth -= 1
                if depth == 0:
                    return index
            index += 1
        return -1

    def _braced(self, text: str, start: int) -> tuple[str, int]:
        end = self._closing(text, start)
        if end < 0:
            raise TemplateError(f"unclosed '${{' in {text!r}", "close the variable with }")
        body = text[start:end]
        name_match = _NAME.match(body)
        if name_match is None:
            raise TemplateError(
                f"invalid variable reference '${{{body}}}' in {text!r}",
                "names start with a letter or _, e.g. ${DB_PASSWORD}",
            )
        name, rest = name_match.group(), body[name_match.end() :]
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            if rest:
                raise TemplateError(
                    f"invalid variable reference '${{{body}}}' in {text!r}",
                    "use ${NAME}, ${NAME:-default}, ${NAME:?error} or ${NAME:+alternative}",
                )
            return self.lookup(name) or "", end + 1
        argument = rest[len(operator) :]
        value = self.lookup(name)
        # The ':' forms treat an empty value like an unset one.
        missing = value is None or (operator.startswith(":") and value == "")
        kind = operator[-1]
        if kind == "-":
            return (self.expand(argument) if missing else str(value)), end + 1
        if kind == "+":
            return ("" if missing else self.expand(argument)), end + 1
        if missing:
            reason = self.expand(argument)
            state = "unset" if value is None else "empty"
            raise TemplateError(
                f"required variable {name} is {state}" + (f": {reason}" if reason else ""),
                _UNSET_HINT.replace("NAME", name),
            )
        return str(value), end + 1


def _unescape_double_quoted(body: str) -> str:
    """Backslash escapes of a double-quoted .env value; ``\\$`` becomes a literal ``$$``."""
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            following = body[index + 1]
            if following == "$":
                out.append("$$")
            else:
                out.append(_ESCAPES.get(following, "\\" + following))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _closing_quote(body: str, quote: str) -> int:
    index = 0
    while index < len(body):
        if quote == '"' and body[index] == "\\":
            index += 2
            continue
        if body[index] == quote:
            return index
        index += 1
    return -1


def parse_env_file(
    text: str, *, file: str = ".env", env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Parse a .env / env_file: ``KEY=VALUE`` lines with the compose conventions.

    ``export`` prefixes and ``#`` comments are allowed; single quotes are literal; double
    quotes take escapes and may span lines; unquoted and double-quoted values are
    interpolated from ``env`` first, then from keys defined earlier in the same file. A
    bare ``KEY`` inherits its value from ``env`` and is skipped when ``env`` lacks it.
    """
    check_size(len(text.encode()), file)
    outer = env or {}
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        return outer[name] if name in outer else values.get(name)

    template = Template(lookup, strict=False)
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        raw, number = lines[index], index + 1
        index += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _ASSIGNMENT.match(raw)
        if match is None:
            raise ComposeError(
                f"not a KEY=VALUE line: {raw.strip()[:60]!r}",
                file=file,
                line=number,
                hint="use KEY=VALUE, one per line; quote values with spaces or '#'",
            )
        key, assigned, rest = match[1], match[2], (match[3] or "").strip()
        if not assigned:
            if key in outer:
                values[key] = outer[key]
            continue
        try:
            if rest[:1] in ("'", '"'):
                quote, body = rest[0], rest[1:]
                while (end := _closing_quote(body, quote)) < 0:
                    if index >= len(lines):
                        raise ComposeError(
                            f"the {quote} quote opened for {key} is never closed",
                            file=file,
                            line=number,
                            hint=f"end the value with {quote}",
                        )
                    body += "\n" + lines[index]
                    index += 1
                trailing = body[end + 1 :].strip()
                if trailing and not trailing.startswith("#"):
                    raise ComposeError(
                        f"unexpected text after the closing quote of {key}: {trailing[:30]!r}",
                        file=file,
                        line=number,
                        hint="put comments after a space and '#'",
                    )
                content = body[:end]
                values[key] = (
                    content if quote == "'" else template.expand(_unescape_double_quoted(content))
                )
            else:
                values[key] = template.expand(re.split(r"\s+#", rest, maxsplit=1)[0].strip())
        except TemplateError as exc:
            raise ComposeError(exc.problem, file=file, line=number, hint=exc.hint) from exc
    return values


class _Walker:
    def __init__(self, document: Document, env: Mapping[str, str]) -> None:
        self.document = document
        self.template = Template(lambda name: env.get(name), strict=True)
        self.issues: list[Issue] = []

    def walk(self, value: Any, path: PathKey) -> Any:
        if isinstance(value, str):
            try:
                return self.template.expand(value)
            except TemplateError as exc:
                self.issues.append(
                    Issue(exc.problem, dotted(path) or None, self.document.line_of(path), exc.hint)
                )
                return value
        if isinstance(value, dict):
            # Keys are names, not values: compose never interpolates them.
            return {key: self.walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, (*path, position)) for position, item in enumerate(value)]
        return value


def interpolate(document: Document, env: Mapping[str, str]) -> Document:
    """Expand every string value; all unset required variables are reported together."""
    walker = _Walker(document, env)
    data = walker.walk(document.data, ())
    if walker.issues:
        raise ComposeError.from_issues(walker.issues, file=document.file)
    return document.with_data(data)


def escape(text: str) -> str:
    """The template that expands to ``text``: every ``$`` doubled."""
    return text.replace("$", "$$")
