"""The audit sink protocol: every tool call, allowed or not, leaves a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AuditEntry:
    org_id: str
    user_id: str | None
    tool: str
    risk: str
    arguments: dict[str, Any]
    outcome: str
    error: str | None = None
    duration_ms: float = 0.0
    target_id: str | None = None
    approval_id: str | None = None
    conversation_id: str | None = None


class AuditSink(Protocol):
    async def record(self, entry: AuditEntry) -> None:
        """Persist the entry durably, independently of the caller's transaction."""
        ...
