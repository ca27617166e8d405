"""The FastAPI application factory: one app per ``Settings``, no module-level state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from api import problems
from api.approval_feed import ApprovalFeed
from api.assistant_wiring import running_assistant, sweeping_approvals
from api.auth.oidc import OidcVerifier
from api.body_limit import BodyLimitMiddleware
from api.db.engine import Database, migrate
from api.db.secrets_box import SecretsBox
from api.knowledge_service import KnowledgeService, loading_knowledge
from api.limits import tool_calls_limit
from api.routers import (
    audit,
    auth,
    chat,
    deployments,
    health,
    knowledge,
    orgs,
    policies,
    stacks,
    streams,
    targets,
    templates,
    tools,
    ui,
)
from api.security_headers import SecurityHeadersMiddleware
from api.state import AppState
from api.timeout import RequestTimeoutMiddleware
from api.tooling import Tooling
from channels.mcp_server import McpHttpChannel
from guardrails.policy import policies_from
from guardrails.rate_limit import rate_limiter_for
from knowledge.templates.catalog import TemplateCatalog
from tools.adapters.factory import AdapterOptions
from tools.catalog import default_registry
from tools.registry import ToolRegistry
from windflow.settings import Settings

log = logging.getLogger("windflow.api")


def build_state(settings: Settings, registry: ToolRegistry | None = None) -> AppState:
    if settings.database_url is None:
        settings.ensure_data_dir()
    http = httpx.AsyncClient()
    db = Database(settings.resolved_database_url)
    rbac, approval_policy = policies_from(settings)
    secrets_box = SecretsBox(settings.fernet_key)
    approval_feed = ApprovalFeed(db)
    templates = TemplateCatalog.load()
    knowledge_service = KnowledgeService(settings, templates)
    limiter = rate_limiter_for(settings.redis_url, settings.redis_prefix)
    tooling = Tooling.build(
        db,
        registry or default_registry(),
        rbac,
        approval_policy,
        secrets_box,
        AdapterOptions.from_settings(settings),
        templates=templates,
        template_key=settings.fernet_key,
        on_approval_change=approval_feed.notify,
        limiter=limiter,
        tool_call_limit=tool_calls_limit(settings),
    )
    tooling.knowledge = knowledge_service
    return AppState(
        settings=settings,
        db=db,
        rbac=rbac,
        tooling=tooling,
        approval_feed=approval_feed,
        knowledge=knowledge_service,
        secrets_box=secrets_box,
        limiter=limiter,
        http=http,
        oidc=OidcVerifier(settings, http) if settings.oidc_issuer else None,
    )


def create_app(settings: Settings | None = None, registry: ToolRegistry | None = None) -> FastAPI:
    settings = settings or Settings()
    state = build_state(settings, registry)
    mcp = McpHttpChannel(state, settings.host)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(migrate, settings.resolved_database_url)
        try:
            async with (
                loading_knowledge(state.knowledge),
                running_assistant(
                    settings, state.db, state.tooling, state.hub, state.knowledge
                ) as bot,
                sweeping_approvals(
                    state.tooling.store, state.db, bot, settings.approval_sweep_seconds
                ),
                mcp.running(),
            ):
                state.assistant = bot
                state.ready = True
                log.info("WindFlow ready (database %s)", state.db.engine.url.render_as_string())
                yield
        finally:
            state.ready = False
            state.assistant = None
            await state.http.aclose()
            await state.limiter.close()
            await state.db.dispose()

    app = FastAPI(
        title="WindFlow",
        version=health.VERSION,
        description="Conversational AI-ops for teams that run their own servers. "
        "Errors are RFC 9457 problem documents.",
        lifespan=lifespan,
    )
    app.state.windflow = state
    app.add_middleware(RequestTimeoutMiddleware, seconds=settings.request_timeout_seconds)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    problems.install(app)
    for router in (
        health.router,
        auth.router,
        orgs.router,
        targets.router,
        stacks.router,
        deployments.router,
        audit.router,
        policies.router,
        streams.router,  # before tools: /approvals/stream is not an approval id
        tools.router,
        chat.router,
        templates.router,
        knowledge.router,
    ):
        app.include_router(router)
    mcp.install(app)  # /mcp: the tools over MCP, bearer token, before the UI's catch-all
    ui.install(app, settings.ui_dir)
    return app
