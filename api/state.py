"""Everything the API process holds for its lifetime, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from api.auth.oidc import OidcVerifier
from api.auth.rate_limit import RateLimiter
from api.db.engine import Database
from api.db.secrets_box import SecretsBox
from api.tooling import Tooling
from guardrails.rbac import RbacPolicy
from windflow.settings import Settings


@dataclass
class AppState:
    settings: Settings
    db: Database
    rbac: RbacPolicy
    secrets_box: SecretsBox
    login_limiter: RateLimiter
    http: httpx.AsyncClient
    oidc: OidcVerifier | None
    tooling: Tooling
    ready: bool = False
