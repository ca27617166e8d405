"""Live changes of each organization's approval queue, for SSE subscribers.

The approval store reports every change made in this process; a short poll of the
queue's signature catches changes made by other processes (other replicas, the CLI).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select

from api.db.engine import Database
from api.db.models import Approval

POLL_SECONDS = 2.0


class ApprovalFeed:
    def __init__(self, db: Database, poll_seconds: float = POLL_SECONDS) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._subscribers: defaultdict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def notify(self, org_id: str, approval_id: str, status: str) -> None:
        change = {"approval_id": approval_id, "status": status}
        for queue in tuple(self._subscribers.get(org_id, ())):
            queue.put_nowait(change)

    async def _signature(self, org_id: str) -> tuple[Any, ...]:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(
                        func.count(Approval.id),
                        func.max(Approval.created_at),
                        func.max(Approval.decided_at),
                        func.max(Approval.used_at),
                        func.sum(func.length(Approval.status)),
                    ).where(Approval.org_id == org_id)
                )
            ).one()
        return tuple(row)

    async def follow(self, org_id: str) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers[org_id].add(queue)
        try:
            seen = await self._signature(org_id)
            yield {"approval_id": None, "status": "subscribed"}
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), timeout=self.poll_seconds)
                except TimeoutError:
                    now = await self._signature(org_id)
                    if now != seen:
                        seen = now
                        yield {"approval_id": None, "status": "changed"}
                    continue
                seen = await self._signature(org_id)
                yield change
        finally:
            self._subscribers[org_id].discard(queue)
            if not self._subscribers[org_id]:
                del self._subscribers[org_id]
