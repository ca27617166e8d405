"""Running one administrative job against the configured database (for CLI sub-apps).

The same rules as the top-level commands: settings from the environment, migrations
applied first, and a WindFlowError printed as error + hint with exit code 2.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.engine import Database, migrate
from api.db.models import Organization
from api.db.repo import identity
from windflow.errors import InvalidInput, NotFound, WindFlowError
from windflow.settings import Settings

T = TypeVar("T")
err = Console(stderr=True)


def run_with_db(work: Callable[[Settings, Database], Awaitable[T]]) -> T:
    async def go(settings: Settings) -> T:
        db = Database(settings.resolved_database_url)
        try:
            return await work(settings, db)
        finally:
            await db.dispose()

    try:
        settings = Settings()
        if settings.database_url is None:
            settings.ensure_data_dir()
        migrate(settings.resolved_database_url)
        return asyncio.run(go(settings))
    except WindFlowError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        if exc.hint:
            err.print(f"[yellow]hint:[/yellow] {exc.hint}")
        raise typer.Exit(code=2) from exc


async def find_org(session: AsyncSession, org: str | None) -> Organization:
    """The organization named by slug or id, or the only one there is."""
    if org is None:
        orgs = list(await session.scalars(select(Organization)))
        if len(orgs) == 1:
            return orgs[0]
        raise InvalidInput(
            "several organizations exist" if orgs else "no organization exists",
            hint="pass --org SLUG" if orgs else "run `windflow init` first",
        )
    found = await identity.find_org(session, org)
    if found is None:
        raise NotFound(f"organization {org!r} not found", hint="check the slug")
    return found
