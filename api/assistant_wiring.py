"""Wiring the assistant into the API process: checkpointer, run store, deps per run.

The deps of a run are rebuilt from the database each time it starts or resumes, so a run
resumed in another process (or after a restart) acts with the same user, the lower of
the role it started with and the user's role now, and the organization's model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select

from api.db.engine import Database
from api.db.models import Conversation, Membership, Organization, Run
from api.db.repo.approvals import SqlApprovalStore
from api.db.repo.conversations import SqlEventLog, SqlRunStore
from api.db.types import utcnow
from api.limits import RunBudget, run_budget
from api.tooling import Tooling
from assistant.checkpoints import open_checkpointer
from assistant.context import Planner, Retriever, RunDeps
from assistant.events import EventHub, RunEmitter
from assistant.graph import build_graph
from assistant.model import LiteLLMClient, ModelSpec
from assistant.model_planner import ModelPlanner
from assistant.rules import RulesPlanner
from assistant.runs import Assistant, RunOwner
from guardrails.approvals import ApprovalView
from guardrails.rbac import Principal, Role
from windflow.errors import PermissionDenied, RateLimited, WindFlowError
from windflow.settings import Settings

log = logging.getLogger("windflow.api")


def planner_for(settings: Settings, org_slug: str | None) -> Planner:
    spec = ModelSpec.from_settings(settings, org_slug)
    if spec is None:
        return RulesPlanner()
    return ModelPlanner(LiteLLMClient(spec), settings.llm_prompt_budget_tokens)


class RunDepsFactory:
    def __init__(
        self, settings: Settings, db: Database, tooling: Tooling, retriever: Retriever | None
    ) -> None:
        self.settings = settings
        self.db = db
        self.tooling = tooling
        self.retriever = retriever

    async def __call__(self, owner: RunOwner, emitter: RunEmitter) -> RunDeps:
        async with self.db.session() as session:
            membership = await session.scalar(
                select(Membership).where(
                    Membership.org_id == owner.org_id, Membership.user_id == owner.user_id
                )
            )
            org = await session.get(Organization, owner.org_id)
            budget: RunBudget
            try:
                budget = await run_budget(session, self.settings, owner.user_id, utcnow())
            except RateLimited:  # the day's budget is spent: no further model turn
                budget = RunBudget(max_tokens=0, max_cost_usd=None)
        if membership is None or org is None:
            raise PermissionDenied(
                "the user who started this run is no longer a member of the organization",
                hint="start a new conversation as a member",
            )
        current, started = Role(membership.role), Role(owner.role)
        role = current if started.at_least(current) else started
        deps = RunDeps(
            org_id=owner.org_id,
            user_id=owner.user_id,
            principal=Principal(user_id=owner.user_id, roles={owner.org_id: role}),
            conversation_id=owner.conversation_id,
            gate=self.tooling.gate,
            registry=self.tooling.registry,
            workspace=self.tooling,
            planner=planner_for(self.settings, org.slug),
            emitter=emitter,
            max_steps=self.settings.assistant_max_steps,
            max_tokens=budget.max_tokens,
            max_cost_usd=budget.max_cost_usd,
            max_message_chars=self.settings.assistant_max_message_chars,
        )
        if self.retriever is not None:
            deps.retriever = self.retriever
        return deps


async def owner_of_open_run(db: Database, approval: ApprovalView) -> RunOwner | None:
    """Whose run waits for this approval (None when it was requested outside a chat)."""
    if approval.thread_id is None:
        return None
    async with db.session() as session:
        conversation = await session.get(Conversation, approval.thread_id)
        run = await session.scalar(
            select(Run)
            .where(
                Run.conversation_id == approval.thread_id,
                Run.status.in_(("running", "waiting")),
            )
            .order_by(Run.started_at.desc())
            .limit(1)
        )
    if conversation is None or run is None or conversation.org_id != approval.org_id:
        return None
    return RunOwner(
        org_id=conversation.org_id,
        user_id=run.user_id,
        conversation_id=conversation.id,
        role=run.role,
    )


@asynccontextmanager
async def running_assistant(
    settings: Settings,
    db: Database,
    tooling: Tooling,
    hub: EventHub,
    retriever: Retriever | None = None,
) -> AsyncIterator[Assistant]:
    """The assistant for the app's lifetime: opens the checkpointer, cancels runs at exit."""
    async with open_checkpointer(settings.resolved_database_url) as checkpointer:
        assistant = Assistant(
            graph=build_graph(checkpointer),
            events=SqlEventLog(db),
            hub=hub,
            runs=SqlRunStore(db),
            deps_for=RunDepsFactory(settings, db, tooling, retriever),
            max_message_chars=settings.assistant_max_message_chars,
        )
        recovered = await assistant.recover()
        if recovered:
            log.warning(
                "%d runs were left running by a previous process; ended as failed", recovered
            )
        try:
            yield assistant
        finally:
            await assistant.close()


async def expire_stale_approvals(
    store: SqlApprovalStore, db: Database, assistant: Assistant
) -> int:
    """Expire approvals nobody decided in time; the runs waiting for them are told."""
    expired = await store.expire_stale()
    for view in expired:
        owner = await owner_of_open_run(db, view)
        if owner is not None:
            await assistant.resume(owner, view.id, "expired")
    return len(expired)


@asynccontextmanager
async def sweeping_approvals(
    store: SqlApprovalStore, db: Database, assistant: Assistant, every_seconds: float
) -> AsyncIterator[None]:
    async def sweep() -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await expire_stale_approvals(store, db, assistant)
            except WindFlowError as exc:  # e.g. the database is briefly unreachable
                log.warning("approval sweep failed: %s", exc)

    task = asyncio.create_task(sweep(), name="windflow-approval-sweeper")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
