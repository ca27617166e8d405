"""The error of an importer: one upstream template could not be carried over."""

from __future__ import annotations

from windflow.errors import InvalidInput


class ImportFailure(InvalidInput):
    """One upstream template cannot be imported; ``reason`` groups similar failures."""

    code = "template_import_failed"
    title = "Template import failed"

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or "skip this template or fix it upstream")
        self.reason = reason
