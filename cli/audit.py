"""``windflow audit verify|export``: check the audit hash chain, export the records."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from api.db.engine import Database
from api.db.models import Organization
from api.db.repo import audit
from cli.admin_db import find_org, run_with_db
from guardrails.audit_chain import ChainReport
from windflow.errors import InvalidInput
from windflow.settings import Settings

audit_app = typer.Typer(help="The audit trail: verify its hash chain, export it.")
console = Console()


@audit_app.command("verify")
def verify(
    org: Annotated[
        str | None, typer.Option("--org", help="Organization slug or id; every one if omitted")
    ] = None,
) -> None:
    """Recompute every organization's audit chain; exit 1 at the first tampered record."""

    async def work(settings: Settings, db: Database) -> list[tuple[str, ChainReport]]:
        async with db.session() as session:
            if org is not None:
                chosen = [await find_org(session, org)]
            else:
                chosen = list(await session.scalars(select(Organization)))
        names = {o.id: o.slug for o in chosen}
        ids = (
            list(names)
            if org is not None
            else sorted(set(names) | set(await audit.chained_orgs(db)))
        )
        return [(names.get(i, i), await audit.verify(db, i)) for i in ids]

    reports = run_with_db(work)
    broken = 0
    for slug, report in reports:
        if report.intact:
            console.print(f"[green]ok[/green] {slug}: {report.records} records, chain intact")
        else:
            broken += 1
            console.print(
                f"[red]TAMPERED[/red] {slug}: first bad sequence number "
                f"{report.first_bad_seq}: {report.problem}"
            )
    if broken:
        raise typer.Exit(code=1)


@audit_app.command("export")
def export(
    org: Annotated[str | None, typer.Option("--org", help="Organization slug or id")] = None,
    format: Annotated[str, typer.Option("--format", help="Only jsonl")] = "jsonl",
    since: Annotated[
        str | None, typer.Option("--since", help="ISO date or time, e.g. 2026-11-01")
    ] = None,
) -> None:
    """Write the organization's audit records to stdout as JSON lines, oldest first."""
    if format != "jsonl":
        raise typer.BadParameter("only --format jsonl is supported", param_hint="--format")

    async def work(settings: Settings, db: Database) -> int:
        start = _parse_since(since)
        async with db.session() as session:
            organization = await find_org(session, org)
        count = 0
        async for line in audit.export_lines(db, organization.id, start):
            sys.stdout.write(line)
            count += 1
        sys.stdout.flush()
        return count

    run_with_db(work)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"--since {value!r} is not an ISO date or time", hint="e.g. 2026-11-01T00:00"
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
