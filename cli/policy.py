"""``windflow policy show|set FILE``: the organization's policy document."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.db.engine import Database
from api.db.repo import audit, policies
from cli.admin_db import find_org, run_with_db
from windflow.errors import InvalidInput
from windflow.settings import Settings

policy_app = typer.Typer(help="The organization's policy document (YAML).")
console = Console()
OrgOption = Annotated[str | None, typer.Option("--org", help="Organization slug or id")]


@policy_app.command("show")
def show(org: OrgOption = None) -> None:
    """Print the policy document (or say that the settings' defaults apply)."""

    async def work(settings: Settings, db: Database) -> str | None:
        async with db.session() as session:
            organization = await find_org(session, org)
            row = await policies.get_policy(session, organization.id)
            return None if row is None else row.document

    document = run_with_db(work)
    if document is None:
        console.print("# no policy document: the settings' defaults apply")
        return
    typer.echo(document, nl=not document.endswith("\n"))


@policy_app.command("set")
def set_policy(
    file: Annotated[Path, typer.Argument(help="The policy document, YAML")],
    org: OrgOption = None,
) -> None:
    """Check a policy document and make it the organization's policy."""

    async def work(settings: Settings, db: Database) -> int:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc}") from exc
        async with db.transaction() as session:
            organization = await find_org(session, org)
            row, parsed = await policies.put_policy(session, organization.id, text, None)
            await audit.record(
                session,
                org_id=organization.id,
                user_id=None,
                tool="cli:policies.put",
                risk="mutate",
                arguments={"version": row.version, "rules": [r.name for r in parsed.rules]},
                outcome="ok",
            )
            return row.version

    version = run_with_db(work)
    console.print(f"Policy version {version} is in force.")
