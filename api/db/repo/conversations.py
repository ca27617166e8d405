"""Conversations, their messages and runs, and the per-thread event log."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.engine import Database
from api.db.models import Conversation, Message, Run, RunEventRecord
from api.db.repo.pages import Page, paginate
from api.db.types import utcnow
from assistant.events import EventType, RunEvent
from assistant.runs import RunOwner
from windflow.errors import Conflict

APPEND_ATTEMPTS = 5
MAX_REMEMBERED_THREADS = 10_000


def _event(row: RunEventRecord) -> RunEvent:
    return RunEvent(
        thread_id=row.thread_id,
        seq=row.seq,
        run_id=row.run_id,
        type=row.type,
        payload=row.payload,
        at=row.created_at,
    )


class SqlEventLog:
    """Appends with the next sequence number of the thread; readers page by sequence."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, int] = {}  # last seq this process wrote per thread

    async def append(
        self, thread_id: str, run_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> RunEvent:
        # The lock orders appends within this process; the unique (thread, seq) constraint
        # catches another process appending to the same thread, and the retry re-reads.
        async with self._locks[thread_id]:
            for attempt in range(APPEND_ATTEMPTS):
                try:
                    async with self.db.transaction() as session:
                        last = self._last.get(thread_id)
                        if last is None:
                            found = await session.scalar(
                                select(func.max(RunEventRecord.seq)).where(
                                    RunEventRecord.thread_id == thread_id
                                )
                            )
                            last = int(found or 0)
                        row = RunEventRecord(
                            thread_id=thread_id,
                            seq=last + 1,
                            run_id=run_id,
                            type=event_type,
                            payload=payload,
                            created_at=utcnow(),
                        )
                        session.add(row)
                    if len(self._last) >= MAX_REMEMBERED_THREADS:
                        self._last.clear()
                    self._last[thread_id] = row.seq
                    return _event(row)
                except IntegrityError:
                    self._last.pop(thread_id, None)
                    if attempt == APPEND_ATTEMPTS - 1:
                        raise
        raise Conflict(f"could not append an event to thread {thread_id}")

    async def after(self, thread_id: str, seq: int, limit: int = 500) -> list[RunEvent]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(RunEventRecord)
                .where(RunEventRecord.thread_id == thread_id, RunEventRecord.seq > seq)
                .order_by(RunEventRecord.seq)
                .limit(limit)
            )
            return [_event(r) for r in rows]


class SqlRunStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_run(self, owner: RunOwner, model: str | None) -> str:
        async with self.db.transaction() as session:
            run = Run(
                org_id=owner.org_id,
                conversation_id=owner.conversation_id,
                user_id=owner.user_id,
                role=owner.role,
                model=model,
            )
            session.add(run)
            await session.flush()
            return run.id

    async def owner_role(self, run_id: str) -> str | None:
        async with self.db.session() as session:
            run = await session.get(Run, run_id)
            return run.role if run is not None else None

    async def set_status(self, run_id: str, status: str) -> None:
        async with self.db.transaction() as session:
            run = await session.get(Run, run_id)
            if run is not None:
                run.status = status

    async def finish_run(
        self, run_id: str, *, status: str, steps: int, usage: dict[str, Any], error: str | None
    ) -> None:
        async with self.db.transaction() as session:
            run = await session.get(Run, run_id)
            if run is None:
                return
            run.status = status
            run.steps = steps
            run.prompt_tokens = int(usage.get("prompt") or 0)
            run.completion_tokens = int(usage.get("completion") or 0)
            run.cost_usd = usage.get("cost_usd")
            run.error = error
            run.finished_at = utcnow()

    async def unfinished(self) -> list[tuple[str, RunOwner]]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Run).where(Run.status.in_(("running", "waiting"))).limit(1000)
            )
            return [
                (
                    run.id,
                    RunOwner(
                        org_id=run.org_id,
                        user_id=run.user_id,
                        conversation_id=run.conversation_id,
                        role=run.role,
                    ),
                )
                for run in rows
            ]

    async def add_message(
        self, conversation_id: str, role: str, content: str, meta: dict[str, Any]
    ) -> None:
        async with self.db.transaction() as session:
            session.add(
                Message(conversation_id=conversation_id, role=role, content=content, meta=meta)
            )
            conversation = await session.get(Conversation, conversation_id)
            if conversation is not None:
                conversation.updated_at = utcnow()
                if not conversation.title and role == "user":
                    conversation.title = content.strip().splitlines()[0][:120]


async def create_conversation(
    session: AsyncSession, org_id: str, user_id: str, title: str
) -> Conversation:
    conversation = Conversation(org_id=org_id, user_id=user_id, title=title)
    session.add(conversation)
    await session.flush()
    return conversation


async def get_conversation(
    session: AsyncSession, org_id: str, conversation_id: str
) -> Conversation | None:
    found = await session.get(Conversation, conversation_id)
    return found if found is not None and found.org_id == org_id else None


async def list_conversations(
    session: AsyncSession, org_id: str, user_id: str, offset: int, limit: int
) -> Page[Conversation]:
    query = (
        select(Conversation)
        .where(Conversation.org_id == org_id, Conversation.user_id == user_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id)
    )
    return await paginate(session, query, offset, limit)


async def list_messages(
    session: AsyncSession, conversation_id: str, offset: int, limit: int
) -> Page[Message]:
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at, Message.id)
    )
    return await paginate(session, query, offset, limit)


async def list_runs(
    session: AsyncSession, conversation_id: str, offset: int, limit: int
) -> Page[Run]:
    query = select(Run).where(Run.conversation_id == conversation_id).order_by(Run.started_at)
    return await paginate(session, query, offset, limit)
