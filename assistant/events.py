"""Run events: the one schema every client reads (SSE API, chat UI, bots, CLI).

Each event is appended to a per-thread log with a sequence number that only grows, so a
client that lost its connection asks for "everything after N" and gets no gaps and no
duplicates. Payloads are redacted before they are stored or sent anywhere.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

from pydantic import BaseModel

from guardrails.redaction import redact
from windflow.errors import InvalidInput

EventType = Literal[
    "run_started",
    "token",
    "message",
    "tool_started",
    "tool_finished",
    "approval_required",
    "approval_decided",
    "error",
    "run_finished",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))

# Streamed tokens are coalesced so a long answer is tens of events, not thousands of rows.
TOKEN_FLUSH_CHARS = 64


class RunEvent(BaseModel):
    thread_id: str
    seq: int
    run_id: str
    type: EventType
    payload: dict[str, Any]
    at: datetime


class EventLog(Protocol):
    """Durable per-thread event storage that assigns the sequence numbers."""

    async def append(
        self, thread_id: str, run_id: str, event_type: EventType, payload: dict[str, Any]
    ) -> RunEvent: ...

    async def after(self, thread_id: str, seq: int, limit: int = 500) -> list[RunEvent]: ...


class EventHub:
    """In-process fan-out of appended events to live subscribers (SSE streams, tests)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[RunEvent]]] = defaultdict(set)

    def publish(self, event: RunEvent) -> None:
        for queue in tuple(self._subscribers.get(event.thread_id, ())):
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, thread_id: str) -> AsyncIterator[asyncio.Queue[RunEvent]]:
        queue: asyncio.Queue[RunEvent] = asyncio.Queue()
        self._subscribers[thread_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[thread_id].discard(queue)
            if not self._subscribers[thread_id]:
                del self._subscribers[thread_id]


class RunEmitter:
    """The event sink of one run: redacts, stores, then publishes each event.

    It is also the tools' ``EventSink``; tools may only emit the shared event types.
    """

    def __init__(self, log: EventLog, hub: EventHub, thread_id: str, run_id: str) -> None:
        self.log = log
        self.hub = hub
        self.thread_id = thread_id
        self.run_id = run_id
        self._tokens: list[str] = []
        self.last_seq = 0

    async def emit(self, event_type: str, payload: Mapping[str, Any]) -> None:
        if event_type not in EVENT_TYPES:
            raise InvalidInput(
                f"unknown run event type {event_type!r}",
                hint=f"use one of: {', '.join(sorted(EVENT_TYPES))}",
            )
        if event_type != "token":
            await self.flush_tokens()
        await self._append(event_type, dict(payload))

    async def token(self, text: str) -> None:
        self._tokens.append(text)
        if sum(len(t) for t in self._tokens) >= TOKEN_FLUSH_CHARS:
            await self.flush_tokens()

    async def flush_tokens(self) -> None:
        if not self._tokens:
            return
        text = "".join(self._tokens)
        self._tokens.clear()
        await self._append("token", {"text": text})

    async def _append(self, event_type: str, payload: dict[str, Any]) -> None:
        cleaned = redact(payload)
        event = await self.log.append(self.thread_id, self.run_id, event_type, cleaned)  # type: ignore[arg-type]
        self.last_seq = event.seq
        self.hub.publish(event)
