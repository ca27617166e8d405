"""A real WindFlow server (uvicorn on 127.0.0.1) in a background thread, for tests that
need real HTTP: SSE streams, browsers, benchmarks.

The app runs in the server thread's event loop with its lifespan (migrations, the
assistant, the approval sweeper). Tests talk to it over HTTP and seed data through a
database connection of their own.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from api.app import create_app
from api.auth import jwt_tokens
from api.db.engine import Database, migrate
from api.db.repo import identity
from guardrails.rbac import Role
from tests.api.harness import PASSWORD, SeededOrg, _password_hash
from windflow.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        secret_key="test-secret-key-for-windflow-tests-0123456789",
        data_dir=data_dir,
        database_url=database_url,
        **{"knowledge_enabled": False, **overrides},  # loading costs ~1 s per app
    )


test_settings.__test__ = False  # type: ignore[attr-defined]  # a factory, not a test


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,  # open SSE streams must not hold a test for 30 s
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        migrate(self.settings.resolved_database_url)  # so tests can seed before it is up
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("the WindFlow server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    async def seed_org(self, slug: str) -> SeededOrg:
        """An organization with one user of every role (password ``PASSWORD``) and tokens."""
        db = Database(self.settings.resolved_database_url)
        try:
            async with db.transaction() as session:
                org = await identity.create_org(session, slug, slug.title())
                seeded = SeededOrg(id=org.id, slug=slug)
                for role in Role:
                    email = f"{role.value}@{slug}.example.com"
                    user = await identity.create_user(
                        session,
                        email,
                        display_name=role.value.title(),
                        password_hash=await asyncio.to_thread(_password_hash),
                    )
                    await identity.set_membership(session, org.id, user.id, role.value)
                    seeded.users[role] = user.id
                    seeded.emails[role] = email
                    seeded.tokens[role] = jwt_tokens.issue(self.settings, user.id, "access").token
            return seeded
        finally:
            await db.dispose()


__all__ = ["PASSWORD", "LiveServer", "free_port", "test_settings"]
