"""Conversations with the assistant: messages start runs; runs report through events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import Field

from api.db.models import Conversation
from api.db.repo import conversations as repo
from api.db.types import utcnow
from api.deps import OrgDep, PageDep
from api.limits import count_by_user_and_token, run_budget, runs_limit
from api.schemas import Input, Output, Page
from assistant.events import RunEvent
from assistant.runs import RunOwner
from guardrails.rbac import Permission
from windflow.errors import NotFound

router = APIRouter(prefix="/conversations", tags=["chat"])


class ConversationIn(Input):
    title: str = Field(default="", max_length=200)


class ConversationOut(Output):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime


class MessageIn(Input):
    # The assistant enforces its own (configurable) limit with a readable answer; this
    # bound only stops absurd bodies before they reach it.
    text: str = Field(min_length=1, max_length=200_000)


class MessageOut(Output):
    id: str
    role: str
    content: str
    meta: dict[str, Any]
    created_at: datetime


class RunOut(Output):
    id: str
    status: str
    model: str | None
    steps: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunStarted(Output):
    run_id: str
    conversation_id: str
    events: str = Field(description="Where this conversation's events are read")


async def conversation_of(ctx: OrgDep, conversation_id: str) -> Conversation:
    found = await repo.get_conversation(ctx.session, ctx.org_id, conversation_id)
    if found is None or found.user_id != ctx.user_id:
        raise NotFound(
            f"conversation {conversation_id!r} not found",
            hint="GET /conversations lists yours",
        )
    return found


async def _owner(ctx: OrgDep, conversation: Conversation) -> RunOwner:
    """The caller as the owner of a run in this conversation."""
    # The run works through its own sessions: make this request's writes visible first.
    await ctx.session.commit()
    return RunOwner(
        org_id=ctx.org_id,
        user_id=ctx.user_id,
        conversation_id=conversation.id,
        role=ctx.role.value,
    )


@router.post("", response_model=ConversationOut, status_code=status.HTTP_201_CREATED)
async def create_conversation(body: ConversationIn, ctx: OrgDep) -> ConversationOut:
    ctx.require(Permission.CHAT_USE)
    created = await repo.create_conversation(ctx.session, ctx.org_id, ctx.user_id, body.title)
    return ConversationOut.model_validate(created)


@router.get("", response_model=Page[ConversationOut])
async def list_conversations(ctx: OrgDep, page: PageDep) -> Page[ConversationOut]:
    """Your conversations in this organization, most recently active first."""
    ctx.require(Permission.CHAT_USE)
    result = await repo.list_conversations(
        ctx.session, ctx.org_id, ctx.user_id, page.offset, page.limit
    )
    return Page[ConversationOut].of(result, ConversationOut.model_validate)


@router.get("/{conversation_id}/messages", response_model=Page[MessageOut])
async def list_messages(conversation_id: str, ctx: OrgDep, page: PageDep) -> Page[MessageOut]:
    ctx.require(Permission.CHAT_USE)
    conversation = await conversation_of(ctx, conversation_id)
    result = await repo.list_messages(ctx.session, conversation.id, page.offset, page.limit)
    return Page[MessageOut].of(result, MessageOut.model_validate)


@router.post(
    "/{conversation_id}/messages",
    response_model=RunStarted,
    status_code=status.HTTP_202_ACCEPTED,
)
async def send_message(conversation_id: str, body: MessageIn, ctx: OrgDep) -> RunStarted:
    """Send a message: starts a run whose progress is read from the events."""
    ctx.require(Permission.CHAT_USE)
    conversation = await conversation_of(ctx, conversation_id)
    await count_by_user_and_token(ctx, "runs", runs_limit(ctx.state.settings))
    await run_budget(ctx.session, ctx.state.settings, ctx.user_id, utcnow())
    owner = await _owner(ctx, conversation)
    run_id = await ctx.state.require_assistant().start(owner, body.text)
    return RunStarted(
        run_id=run_id,
        conversation_id=conversation.id,
        events=f"/conversations/{conversation.id}/events",
    )


@router.get("/{conversation_id}/events", response_model=list[RunEvent])
async def events(
    conversation_id: str,
    ctx: OrgDep,
    after: Annotated[int, Query(ge=0, description="Last sequence number already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[RunEvent]:
    """The conversation's run events after a sequence number, oldest first."""
    ctx.require(Permission.CHAT_USE)
    conversation = await conversation_of(ctx, conversation_id)
    return await ctx.state.require_assistant().events.after(conversation.id, after, limit)


@router.get("/{conversation_id}/runs", response_model=Page[RunOut])
async def runs(conversation_id: str, ctx: OrgDep, page: PageDep) -> Page[RunOut]:
    """The conversation's runs: outcome, steps, tokens and cost."""
    ctx.require(Permission.CHAT_USE)
    conversation = await conversation_of(ctx, conversation_id)
    result = await repo.list_runs(ctx.session, conversation.id, page.offset, page.limit)
    return Page[RunOut].of(result, RunOut.model_validate)


class CancelOut(Output):
    conversation_id: str
    status: str


@router.post("/{conversation_id}/cancel", response_model=CancelOut)
async def cancel(conversation_id: str, ctx: OrgDep) -> CancelOut:
    """Stop the conversation's run; a pending change it waits for is expired, not made."""
    ctx.require(Permission.CHAT_USE)
    conversation = await conversation_of(ctx, conversation_id)
    owner = await _owner(ctx, conversation)
    outcome = await ctx.state.require_assistant().cancel(owner, ctx.state.tooling.store.expire)
    await ctx.audit("conversations.cancel", {"conversation_id": conversation.id})
    return CancelOut(conversation_id=conversation.id, status=outcome)
