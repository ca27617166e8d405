"""Real databases for tests: SQLite files and PostgreSQL databases on the local server.

Migrations run once per session into a template; each test gets a copy (a file copy for
SQLite, ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL), so every test starts clean and
the migrations themselves are exercised on both engines.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from api.db.engine import migrate

PG_ADMIN_DSN = os.environ.get("WINDFLOW_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_url(dbname: str) -> str:
    base = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    user = base.get("user", "postgres")
    host = base.get("host", "127.0.0.1")
    port = base.get("port", 5432)
    password = base.get("password")
    auth = f"{user}:{password}" if password else str(user)
    return f"postgresql+psycopg://{auth}@{host}:{port}/{dbname}"


def postgres_available() -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_ADMIN_DSN} is not reachable: {exc}"
    return None


def require_postgres() -> None:
    reason = postgres_available()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


class PostgresDatabases:
    def __init__(self) -> None:
        self.prefix = f"wf_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_tpl"
        self.created: list[str] = []

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(PG_ADMIN_DSN, autocommit=True)

    def create_template(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        migrate(_pg_url(self.template))

    def fresh(self) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:8]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return _pg_url(name)

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in reversed(self.created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


class SqliteDatabases:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"

    def create_template(self) -> None:
        migrate(f"sqlite+aiosqlite:///{self.template}")

    def fresh(self) -> str:
        path = self.root / f"{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite+aiosqlite:///{path}"


@contextmanager
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    databases.create_template()
    try:
        yield databases
    finally:
        databases.drop_all()
