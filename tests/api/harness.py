"""A running WindFlow API (real app, real database, lifespan included) for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.auth import jwt_tokens
from api.auth.passwords import hash_password
from api.db.repo import identity
from api.state import AppState
from guardrails.rbac import Role
from windflow.settings import Settings

PASSWORD = "correct-horse-battery"


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class SeededOrg:
    id: str
    slug: str
    users: dict[Role, str] = field(default_factory=dict)
    emails: dict[Role, str] = field(default_factory=dict)
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role, org: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", "X-WindFlow-Org": org or self.id}


class ApiHarness:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.state: AppState = self.app.state.windflow
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://windflow.test"
        )

    @classmethod
    @asynccontextmanager
    async def start(
        cls, database_url: str, data_dir: Path, **overrides: Any
    ) -> AsyncIterator[ApiHarness]:
        settings = Settings(
            _env_file=None,
            environment="test",
            secret_key="test-secret-key-for-windflow-tests-0123456789",
            data_dir=data_dir,
            database_url=database_url,
            **{"knowledge_enabled": False, **overrides},  # loading costs ~1 s per app
        )
        harness = cls(settings)
        async with harness.app.router.lifespan_context(harness.app), harness.client:
            yield harness

    async def seed_org(self, slug: str) -> SeededOrg:
        """An organization with one user of every role, each with an access token."""
        async with self.state.db.transaction() as session:
            org = await identity.create_org(session, slug, slug.title())
            seeded = SeededOrg(id=org.id, slug=slug)
            for role in Role:
                email = f"{role.value}@{slug}.example.com"
                user = await identity.create_user(
                    session, email, display_name=role.value, password_hash=_password_hash()
                )
                await identity.set_membership(session, org.id, user.id, role.value)
                seeded.users[role] = user.id
                seeded.emails[role] = email
                seeded.tokens[role] = jwt_tokens.issue(self.settings, user.id, "access").token
        return seeded

    async def count(self, table: str) -> int:
        from sqlalchemy import text

        async with self.state.db.session() as session:
            return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
