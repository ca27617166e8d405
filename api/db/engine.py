"""Engine and session factory, and applying migrations on start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from windflow.errors import ConfigurationError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sync_url(async_url: str) -> str:
    """The same database for Alembic's synchronous run (psycopg 3 serves both modes)."""
    url = make_url(async_url)
    if url.drivername == "sqlite+aiosqlite":
        url = url.set(drivername="sqlite")
    elif url.drivername in ("postgresql", "postgresql+psycopg", "postgresql+psycopg_async"):
        url = url.set(drivername="postgresql+psycopg")
    else:
        raise ConfigurationError(
            f"unsupported database driver {url.drivername!r}",
            hint="use sqlite+aiosqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        )
    return url.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.drivername.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 30}}
    engine = create_async_engine(parsed, **kwargs)
    if parsed.drivername.startswith("sqlite"):
        # Foreign keys are off by default in SQLite; WAL lets readers proceed during writes.
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    """Bring the schema to the newest revision; safe to call on every start."""
    command.upgrade(alembic_config(database_url), "head")


class Database:
    """The engine plus a session factory; one per process, passed in where needed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
