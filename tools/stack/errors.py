"""Errors in compose files, located by file, dotted path and line."""

from __future__ import annotations

from dataclasses import dataclass

from windflow.errors import InvalidInput


@dataclass(frozen=True)
class Issue:
    message: str
    path: str | None = None
    line: int | None = None

    def render(self, file: str | None) -> str:
        where = ":".join(str(p) for p in (file, self.line) if p is not None)
        prefix = " ".join(p for p in (where, self.path) if p)
        return f"{prefix}: {self.message}" if prefix else self.message


class ComposeError(InvalidInput):
    """One or more problems in a compose file; ``issues`` lists each with its location."""

    code = "invalid_compose"
    title = "Invalid compose file"

    def __init__(self, issues: list[Issue], *, file: str | None = None, hint: str | None = None):
        self.issues = issues
        self.file = file
        first = issues[0]
        self.path = first.path
        self.line = first.line
        text = "; ".join(issue.render(file) for issue in issues[:10])
        if len(issues) > 10:
            text += f"; and {len(issues) - 10} more"
        super().__init__(
            text,
            hint=hint or "fix the compose file at the places named",
            details={
                "issues": [{"message": i.message, "path": i.path, "line": i.line} for i in issues],
            },
        )

    @classmethod
    def at(
        cls,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        file: str | None = None,
        hint: str | None = None,
    ) -> ComposeError:
        return cls([Issue(message, path, line)], file=file, hint=hint)
