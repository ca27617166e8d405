"""The durable checkpointer, on the same database as the API.

SQLite (the embedded default) uses the API's database file, in WAL mode with a busy
timeout so the API's writes and the checkpointer's do not fail each other. PostgreSQL uses
the same server and database. A run that waits for an approval is a checkpoint: any process
that opens the same database can resume it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.engine import make_url

from windflow.errors import ConfigurationError

SQLITE_BUSY_TIMEOUT_MS = 30_000


@asynccontextmanager
async def open_checkpointer(database_url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = url.database or ":memory:"
        async with aiosqlite.connect(path) as conn:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            sqlite_saver = AsyncSqliteSaver(conn)
            await sqlite_saver.setup()
            yield sqlite_saver
        return
    if url.drivername.startswith("postgresql"):
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                "the PostgreSQL checkpointer is not installed",
                hint="install WindFlow with the postgres extra: pip install 'windflow[postgres]'",
            ) from exc
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with AsyncPostgresSaver.from_conn_string(conninfo) as postgres_saver:
            await postgres_saver.setup()
            yield postgres_saver
        return
    raise ConfigurationError(
        f"no checkpointer for database driver {url.drivername!r}",
        hint="use sqlite+aiosqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
    )
