"""Finding and rewriting ``${NAME}`` references in compose text without expanding it.

The stack loader expands a whole file against one environment. Templates need finer
tools: list what a compose file references, replace some references and keep others
(secrets stay ``${NAME}`` so the compose text never holds them), and rename references
while importing foreign catalogs. All of them share the scanner here, which follows the
compose rules: ``$$`` is a literal dollar, ``${NAME<op>argument}`` may nest, ``$NAME`` is
the short form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPERATORS = (":-", ":?", ":+", "-", "?", "+")


@dataclass(frozen=True)
class Reference:
    """One reference as written: ``${NAME:-argument}`` has operator ``:-``."""

    name: str
    operator: str | None
    argument: str | None
    raw: str

    def with_name(self, name: str, argument: str | None = None) -> str:
        """The same reference to another name (and optionally another argument)."""
        if self.operator is None:
            return f"${{{name}}}"
        return f"${{{name}{self.operator}{self.argument if argument is None else argument}}}"


Rewriter = Callable[[Reference], str | None]


def _closing(text: str, start: int) -> int:
    depth, index = 1, start
    while index < len(text):
        if text.startswith("$$", index):
            index += 2
        elif text.startswith("${", index):
            depth += 1
            index += 2
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
            index += 1
        else:
            index += 1
    return -1


def _reference(text: str, dollar: int) -> tuple[Reference, int] | None:
    """The reference starting at ``text[dollar]`` and the index after it, if it is one."""
    if text.startswith("${", dollar):
        end = _closing(text, dollar + 2)
        if end < 0:
            return None
        body = text[dollar + 2 : end]
        match = _NAME.match(body)
        if match is None:
            return None
        rest = body[match.end() :]
        operator = next((op for op in OPERATORS if rest.startswith(op)), None)
        if operator is None and rest:
            return None
        argument = rest[len(operator) :] if operator else None
        return Reference(match.group(), operator, argument, text[dollar : end + 1]), end + 1
    match = _NAME.match(text, dollar + 1)
    if match is None:
        return None
    return Reference(match.group(), None, None, text[dollar : match.end()]), match.end()


def rewrite(text: str, replace: Rewriter, *, stray: str = "$") -> str:
    """``text`` with each top-level reference replaced by ``replace(ref)`` (None keeps it).

    Arguments are not visited: a rewriter that wants nested references handled calls
    ``rewrite`` on ``ref.argument`` itself. A ``$`` that starts no reference is written
    as ``stray`` (``"$$"`` escapes it).
    """
    out: list[str] = []
    index = 0
    while (dollar := text.find("$", index)) >= 0:
        out.append(text[index:dollar])
        if text.startswith("$$", dollar):
            out.append("$$")
            index = dollar + 2
            continue
        found = _reference(text, dollar)
        if found is None:
            out.append(stray)
            index = dollar + 1
            continue
        ref, index = found
        replacement = replace(ref)
        out.append(ref.raw if replacement is None else replacement)
    out.append(text[index:])
    return "".join(out)


def references(text: str) -> Iterator[Reference]:
    """Every reference in ``text``, nested ones (inside arguments) included."""
    found: list[Reference] = []

    def collect(ref: Reference) -> None:
        found.append(ref)
        if ref.argument:
            rewrite(ref.argument, lambda inner: collect(inner))

    rewrite(text, lambda ref: collect(ref))
    yield from found


def referenced_names(text: str) -> set[str]:
    """Names referenced in compose text; YAML comment lines are skipped."""
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return {ref.name for ref in references("\n".join(lines))}


def escape(value: str) -> str:
    """Compose text that expands to ``value``: every ``$`` doubled."""
    return value.replace("$", "$$")


class MissingValue(Exception):
    """A ``${NAME:?message}`` reference met an unset or empty value."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(name)
        self.name = name
        self.message = message


def fill(text: str, values: Mapping[str, str], keep: frozenset[str] = frozenset()) -> str:
    """Expand references to ``values`` in place, leaving names in ``keep`` as references.

    The result is still compose text: substituted values are escaped, and kept references
    are written in braces with their arguments filled. A name in neither mapping counts
    as unset, as in compose.
    """

    def replace(ref: Reference) -> str:
        argument = fill(ref.argument, values, keep) if ref.argument is not None else None
        if ref.name in keep:
            return ref.with_name(ref.name, argument)
        value = values.get(ref.name)
        if ref.operator is None:
            return escape(value or "")
        missing = value is None or (ref.operator.startswith(":") and value == "")
        kind = ref.operator[-1]
        if kind == "-":
            return argument or "" if missing else escape(value or "")
        if kind == "+":
            return "" if missing else argument or ""
        if missing:
            raise MissingValue(ref.name, ref.argument or "")
        return escape(value or "")

    return rewrite(text, replace)
