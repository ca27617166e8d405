"""The audit trail: ToolInvocation records, appended to a hash chain and never updated.

Writers of one organization are serialized on its ``audit_heads`` row: the first
statement of an append is an UPDATE of that row, which locks it until commit on
PostgreSQL (like SELECT ... FOR UPDATE) and takes the database's write lock on SQLite,
which every other writer waits for. Either way two writers never read the same head, so
the chain cannot fork.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.engine import Database
from api.db.models import AuditHead, ToolInvocation
from api.db.repo.pages import Page, paginate
from api.db.types import new_id, utcnow
from guardrails.audit import AuditEntry
from guardrails.audit_chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainReport,
    ChainVerifier,
    json_clean,
    record_hash,
)

# How long a writer waits for another writer of the same organization on PostgreSQL
# before failing instead of hanging (a request that holds the head must commit first).
HEAD_LOCK_TIMEOUT = "15s"
EXPORT_BATCH = 500


async def _claim_next(session: AsyncSession, org_id: str) -> tuple[int, str]:
    """Lock the organization's head and take the next number: (seq, previous hash).

    One UPDATE ... RETURNING both locks the row (PostgreSQL) or takes the database's write
    lock (SQLite) and reads the head, so no other writer can read it in between.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"SET LOCAL lock_timeout = '{HEAD_LOCK_TIMEOUT}'"))
    claim = (
        update(AuditHead)
        .where(AuditHead.org_id == org_id)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    )
    found = (await session.execute(claim)).first()
    if found is None:  # the organization's first record: create its head, then claim
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert(AuditHead)
            .values(org_id=org_id, seq=0, hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["org_id"])
        )
        found = (await session.execute(claim)).first()
    assert found is not None
    return int(found[0]), str(found[1])


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
    seq, previous = await _claim_next(session, org_id)
    fields: dict[str, Any] = {
        "id": new_id(),
        "org_id": org_id,
        "seq": seq,
        "prev_hash": previous,
        "created_at": utcnow(),
        "user_id": user_id,
        "target_id": target_id,
        "tool": tool,
        "risk": risk,
        "arguments": json_clean(arguments),
        "outcome": outcome,
        "error": error,
        "duration_ms": float(duration_ms),
        "approval_id": approval_id,
        "conversation_id": conversation_id,
    }
    entry = ToolInvocation(**fields, hash=record_hash(fields))
    session.add(entry)
    await session.flush()
    await session.execute(
        update(AuditHead).where(AuditHead.org_id == org_id).values(hash=entry.hash)
    )
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
    query = query.order_by(ToolInvocation.seq.desc())
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


def as_record(entry: ToolInvocation) -> dict[str, Any]:
    """A stored record as the chain hashes it, plus its hash (the export's line)."""
    fields: dict[str, Any] = {name: getattr(entry, name) for name in HASHED_FIELDS}
    fields["hash"] = entry.hash
    return fields


async def _records(
    db: Database, org_id: str, since: datetime | None = None
) -> AsyncIterator[ToolInvocation]:
    """An organization's records in chain order, read in batches by sequence number."""
    after = 0
    while True:
        async with db.session() as session:
            query = select(ToolInvocation).where(
                ToolInvocation.org_id == org_id, ToolInvocation.seq > after
            )
            if since is not None:
                query = query.where(ToolInvocation.created_at >= since)
            batch = list(
                await session.scalars(query.order_by(ToolInvocation.seq).limit(EXPORT_BATCH))
            )
        for entry in batch:
            yield entry
        if len(batch) < EXPORT_BATCH:
            return
        after = batch[-1].seq


async def export_lines(
    db: Database, org_id: str, since: datetime | None = None
) -> AsyncIterator[str]:
    """JSON lines, one record each with its seq, prev_hash and hash, oldest first."""
    async for entry in _records(db, org_id, since):
        record = as_record(entry)
        record["created_at"] = entry.created_at.isoformat(timespec="microseconds")
        yield json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"


async def verify(db: Database, org_id: str) -> ChainReport:
    """Recompute the organization's chain; the report names the first record that fails."""
    async with db.session() as session:
        head = await session.get(AuditHead, org_id)
    verifier = ChainVerifier(org_id)
    async for entry in _records(db, org_id):
        if not verifier.feed(as_record(entry)):
            break
    return verifier.finish((head.seq, head.hash) if head is not None else None)


async def chained_orgs(db: Database) -> list[str]:
    """Every organization that has audit records or a chain head."""
    async with db.session() as session:
        found = set(await session.scalars(select(AuditHead.org_id)))
        found |= set(await session.scalars(select(ToolInvocation.org_id).distinct()))
    return sorted(found)
