"""Everything the API process holds for its lifetime, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from api.approval_feed import ApprovalFeed
from api.auth.oidc import OidcVerifier
from api.db.engine import Database
from api.db.secrets_box import SecretsBox
from api.knowledge_service import KnowledgeService
from api.tooling import Tooling
from assistant.events import EventHub
from assistant.runs import Assistant
from guardrails.rate_limit import RateLimiter
from guardrails.rbac import RbacPolicy
from windflow.errors import ConfigurationError
from windflow.settings import Settings


@dataclass
class AppState:
    settings: Settings
    db: Database
    rbac: RbacPolicy
    secrets_box: SecretsBox
    limiter: RateLimiter  # rates of logins, runs and tool calls (memory or Redis)
    http: httpx.AsyncClient
    oidc: OidcVerifier | None
    tooling: Tooling
    approval_feed: ApprovalFeed
    knowledge: KnowledgeService
    hub: EventHub = field(default_factory=EventHub)
    assistant: Assistant | None = None
    ready: bool = False

    def require_assistant(self) -> Assistant:
        if self.assistant is None:
            raise ConfigurationError(
                "the assistant is not running in this process",
                hint="it starts with the API; check the server log for a startup error",
            )
        return self.assistant
