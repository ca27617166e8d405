"""Shared fixtures: databases on both engines and a running API with seeded identities."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from assistant.scripted import ScriptedModel
from tests.api.harness import ApiHarness
from tests.databases import (
    PostgresDatabases,
    SqliteDatabases,
    postgres_databases,
    require_postgres,
)

pytest_plugins = ["tests.infra.fixtures"]


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    databases = SqliteDatabases(tmp_path_factory.mktemp("sqlite"))
    databases.create_template()
    return databases


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    require_postgres()
    with postgres_databases() as databases:
        yield databases


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        sqlite: SqliteDatabases = request.getfixturevalue("sqlite_databases")
        return sqlite.fresh()
    postgres: PostgresDatabases = request.getfixturevalue("pg_databases")
    return postgres.fresh()


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    """A scripted model registered with LiteLLM; configure ``llm_model=model.model_name``."""
    scripted = ScriptedModel()
    scripted.install()
    yield scripted
    scripted.uninstall()


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with ApiHarness.start(database_url, tmp_path) as harness:
        yield harness
