"""Errors in compose files, located by file, dotted path and line.

A single problem renders as ``compose.yml:12 services.web.ports[0]: <what> (<how to fix>)``;
schema validation reports every problem it finds, so one error can carry several issues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from windflow.errors import InvalidInput, PayloadTooLarge

# Enough to fix a file in one pass without turning an API response into a wall of text.
_MAX_RENDERED = 20


@dataclass(frozen=True)
class Issue:
    """One problem: what is wrong, where, and (optionally) how to fix it."""

    problem: str
    path: str | None = None
    line: int | None = None
    hint: str | None = None

    def located(self, file: str | None) -> str:
        if file is not None:
            where = f"{file}:{self.line}" if self.line is not None else file
        else:
            where = f"line {self.line}" if self.line is not None else ""
        prefix = " ".join(part for part in (where, self.path) if part)
        return f"{prefix}: {self.problem}" if prefix else self.problem

    def render(self, file: str | None) -> str:
        text = self.located(file)
        return f"{text} ({self.hint})" if self.hint else text

    def as_dict(self) -> dict[str, str | int | None]:
        return {"problem": self.problem, "path": self.path, "line": self.line, "hint": self.hint}


class ComposeError(InvalidInput):
    """A compose file (or its .env / env_file) is invalid.

    ``file``, ``path`` and ``line`` locate the first problem; ``issues`` lists all of them.
    """

    code = "invalid_compose"
    title = "Invalid compose file"

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        issues: Sequence[Issue] | None = None,
    ) -> None:
        self.issues: list[Issue] = list(issues) if issues else [Issue(problem, path, line, hint)]
        first = self.issues[0]
        self.file = file
        self.path = first.path
        self.line = first.line
        self.problem = first.problem
        if len(self.issues) == 1:
            message, overall_hint = first.located(file), first.hint
        else:
            shown = "; ".join(issue.render(file) for issue in self.issues[:_MAX_RENDERED])
            extra = len(self.issues) - _MAX_RENDERED
            more = f"; and {extra} more" if extra > 0 else ""
            message = f"{len(self.issues)} problems in {file or 'the compose file'}: {shown}{more}"
            overall_hint = hint or "fix each problem at the line named"
        super().__init__(
            message,
            hint=overall_hint,
            details={"file": file, "issues": [issue.as_dict() for issue in self.issues]},
        )

    @classmethod
    def from_issues(cls, issues: Sequence[Issue], *, file: str | None = None) -> ComposeError:
        if not issues:
            raise ValueError("from_issues needs at least one issue")
        first = issues[0]
        return cls(first.problem, file=file, issues=issues)


class ComposeTooLarge(ComposeError, PayloadTooLarge):
    """The input is over the size cap; the API answers 413 rather than 422."""

    status = 413
    code = "payload_too_large"
    title = "Compose file too large"
