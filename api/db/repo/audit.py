"""The audit trail: ToolInvocation records, appended and never updated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.engine import Database
from api.db.models import ToolInvocation
from api.db.repo.pages import Page, paginate
from guardrails.audit import AuditEntry


async def record(
    session: AsyncSession,
    *,
    org_id: str,
    user_id: str | None,
    tool: str,
    risk: str,
    arguments: dict[str, Any],
    outcome: str,
    error: str | None = None,
    duration_ms: float = 0.0,
    target_id: str | None = None,
    approval_id: str | None = None,
    conversation_id: str | None = None,
) -> ToolInvocation:
    entry = ToolInvocation(
        org_id=org_id,
        user_id=user_id,
        tool=tool,
        risk=risk,
        arguments=arguments,
        outcome=outcome,
        error=error,
        duration_ms=duration_ms,
        target_id=target_id,
        approval_id=approval_id,
        conversation_id=conversation_id,
    )
    session.add(entry)
    await session.flush()
    return entry


async def list_entries(
    session: AsyncSession,
    org_id: str,
    offset: int,
    limit: int,
    *,
    tool: str | None = None,
    outcome: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
) -> Page[ToolInvocation]:
    query = select(ToolInvocation).where(ToolInvocation.org_id == org_id)
    if tool:
        query = query.where(ToolInvocation.tool == tool)
    if outcome:
        query = query.where(ToolInvocation.outcome == outcome)
    if user_id:
        query = query.where(ToolInvocation.user_id == user_id)
    if since:
        query = query.where(ToolInvocation.created_at >= since)
    query = query.order_by(ToolInvocation.created_at.desc(), ToolInvocation.id)
    return await paginate(session, query, offset, limit)


class SqlAuditSink:
    """Writes each audit entry in its own transaction, so it survives the caller's failure."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, entry: AuditEntry) -> None:
        async with self.db.transaction() as session:
            await record(
                session,
                org_id=entry.org_id,
                user_id=entry.user_id,
                tool=entry.tool,
                risk=entry.risk,
                arguments=entry.arguments,
                outcome=entry.outcome,
                error=entry.error,
                duration_ms=entry.duration_ms,
                target_id=entry.target_id,
                approval_id=entry.approval_id,
                conversation_id=entry.conversation_id,
            )
