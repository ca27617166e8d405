"""A live WindFlow server (no model: the rules planner answers) with a Docker target on the
real engine, an organization and a real API token for its operator."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from api.auth import api_tokens
from api.db.engine import Database
from api.db.repo import identity
from guardrails.rbac import Role
from tests.api.harness import SeededOrg
from tests.api.world import add_docker_target
from tests.databases import SqliteDatabases
from tests.infra.docker_engine import DockerEngine
from tests.live_server import LiveServer, test_settings


@dataclass
class World:
    server: LiveServer
    org: SeededOrg
    token: str  # an API token of the operator


async def _api_token(db: Database, org: SeededOrg, role: Role) -> str:
    raw = api_tokens.generate()
    async with db.transaction() as session:
        await identity.add_api_token(
            session,
            org_id=org.id,
            user_id=org.users[role],
            name="cli-test",
            token_hash=api_tokens.digest(raw),
            prefix=api_tokens.display_prefix(raw),
            role_cap=role.value,
            expires_at=None,
        )
    return raw


async def seed(server: LiveServer, docker_host: str) -> World:
    org = await server.seed_org(f"cli{uuid.uuid4().hex[:6]}")
    db = Database(server.settings.resolved_database_url)
    try:
        await add_docker_target(db, org.id, docker_host)
        token = await _api_token(db, org, Role.OPERATOR)
    finally:
        await db.dispose()
    return World(server, org, token)


@pytest.fixture(scope="module")
def world(
    sqlite_databases: SqliteDatabases,
    docker_engine: DockerEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    settings = test_settings(sqlite_databases.fresh(), tmp_path_factory.mktemp("live"))
    with LiveServer(settings) as server:
        yield asyncio.run(seed(server, docker_engine.host))
