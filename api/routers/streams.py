"""Server-Sent Event streams: a conversation's run events, and the approval queue.

A conversation stream replays the log after ``Last-Event-ID`` (or ``?after=``), then
follows live events. It subscribes before it replays and skips what it already sent, so a
reconnecting client receives every event exactly once and in order. Live events come from
the in-process hub; the log is re-read on a short timer as well, so events written by
another process (a run resumed on another replica) arrive too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from api.deps import OrgDep
from api.routers.chat import conversation_of
from assistant.events import EVENT_TYPES, EventLog, RunEvent
from guardrails.rbac import Permission
from windflow.errors import InvalidInput

router = APIRouter(tags=["streams"])

HEARTBEAT_SECONDS = 15
LOG_POLL_SECONDS = 1.0
REPLAY_PAGE = 500


def _resume_point(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is None:
        return after or 0
    try:
        value = int(last_event_id)
    except ValueError as exc:
        raise InvalidInput(
            f"Last-Event-ID must be an event sequence number, not {last_event_id!r}",
            hint="send back the id of the last event you received",
        ) from exc
    if value < 0:
        raise InvalidInput("Last-Event-ID must not be negative")
    return value


def _sse(event: RunEvent) -> ServerSentEvent:
    return ServerSentEvent(data=event.model_dump_json(), event=event.type, id=str(event.seq))


async def follow(
    log: EventLog,
    subscribe: Any,
    thread_id: str,
    after: int,
    end_on: frozenset[str],
    poll_seconds: float = LOG_POLL_SECONDS,
) -> AsyncIterator[RunEvent]:
    """Every event of the thread after ``after``, once each, in order; live until ended."""
    last = after
    async with subscribe(thread_id) as live:
        while True:
            backlog = await log.after(thread_id, last, REPLAY_PAGE)
            for event in backlog:
                last = event.seq
                yield event
                if event.type in end_on:
                    return
            if len(backlog) == REPLAY_PAGE:
                continue  # more to replay before waiting
            try:
                event = await asyncio.wait_for(live.get(), timeout=poll_seconds)
            except TimeoutError:
                continue  # re-read the log: another process may have appended
            if event.seq != last + 1:
                continue  # already sent, or a gap the log fills on the next read
            last = event.seq
            yield event
            if event.type in end_on:
                return


@router.get("/conversations/{conversation_id}/stream", response_class=EventSourceResponse)
async def conversation_stream(
    conversation_id: str,
    ctx: OrgDep,
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int | None, Query(ge=0, description="Resume after this sequence")] = None,
    end_on: Annotated[
        list[str] | None,
        Query(description="Close the stream after an event of one of these types"),
    ] = None,
) -> EventSourceResponse:
    """The conversation's run events as SSE (``id`` = sequence, ``event`` = type)."""
    ctx.require(Permission.CHAT_USE)
    conversation = await conversation_of(ctx, conversation_id)
    start = _resume_point(last_event_id, after)
    endings = frozenset(end_on or ())
    if unknown := endings - EVENT_TYPES:
        raise InvalidInput(
            f"unknown event types in end_on: {', '.join(sorted(unknown))}",
            hint=f"use: {', '.join(sorted(EVENT_TYPES))}",
        )
    assistant = ctx.state.require_assistant()
    hub = ctx.state.hub

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for event in follow(assistant.events, hub.subscribe, conversation.id, start, endings):
            yield _sse(event)

    return EventSourceResponse(events(), ping=HEARTBEAT_SECONDS)


@router.get("/approvals/stream", response_class=EventSourceResponse, tags=["approvals"])
async def approvals_stream(ctx: OrgDep) -> EventSourceResponse:
    """Live changes of the organization's approval queue: requested, decided, expired, used.

    Each event carries the approval id and its new status; clients refetch what they show.
    """
    ctx.require(Permission.APPROVALS_READ)
    feed = ctx.state.approval_feed
    org_id = ctx.org_id

    async def changes() -> AsyncIterator[ServerSentEvent]:
        async for change in feed.follow(org_id):
            yield ServerSentEvent(data=json.dumps(change), event="approval")

    return EventSourceResponse(changes(), ping=HEARTBEAT_SECONDS)
