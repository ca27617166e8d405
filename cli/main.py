"""``windflow``: start the server and administer the local installation.

Administrative commands work directly on the configured database (they are run by
whoever operates the server), reusing the same repository functions as the API.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import api_tokens
from api.auth.passwords import hash_password
from api.db.engine import Database
from api.db.models import Organization, Target
from api.db.repo import identity, resources
from api.db.secrets_box import SecretsBox
from api.db.types import utcnow
from api.tooling import target_spec
from cli.admin_db import find_org, run_with_db
from cli.ask import ask_command, chat_command
from cli.audit import audit_app
from cli.convert import convert_command
from cli.lint import lint_command
from cli.mcp import mcp_command
from cli.policy import policy_app
from guardrails.rbac import Role
from tools import connectivity
from tools.adapters.factory import AdapterOptions, build_adapter
from tools.targets import parse_kind, validate_connection, validate_secrets
from windflow.errors import InvalidInput, NotFound
from windflow.settings import Settings

app = typer.Typer(
    help="WindFlow: conversational AI-ops for your own servers.", no_args_is_help=True
)
user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for bots and scripts.", no_args_is_help=True)
target_app = typer.Typer(help="Targets: Docker hosts, Swarms, clusters, VMs.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(target_app, name="target")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.command("convert")(convert_command)
app.command("lint")(lint_command)
app.command("ask")(ask_command)
app.command("chat")(chat_command)
app.command("mcp")(mcp_command)

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

OrgOption = Annotated[str | None, typer.Option("--org", help="Organization slug or id")]


def _run(work: Callable[[Settings, AsyncSession], Awaitable[T]]) -> T:
    """Run one administrative transaction against the configured database."""

    async def in_transaction(settings: Settings, db: Database) -> T:
        async with db.transaction() as session:
            return await work(settings, session)

    return run_with_db(in_transaction)


_org = find_org


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Start the WindFlow server (API, chat UI) on its configured database."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    console.print(f"WindFlow on http://{bind_host}:{bind_port}  (data: {settings.data_dir})")
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level="info")


@app.command()
def init(
    email: Annotated[str, typer.Option(help="Email of the first owner")] = "admin@example.com",
    org_slug: Annotated[
        str, typer.Option("--org", help="Slug of the first organization")
    ] = "default",
    org_name: Annotated[str, typer.Option(help="Display name of the organization")] = "Default",
    password: Annotated[
        str | None, typer.Option(help="Owner's password; generated and printed if omitted")
    ] = None,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing if an organization exists already")
    ] = False,
) -> None:
    """Create the first organization and its owner, and print an API token once."""
    chosen = password or secrets.token_urlsafe(15)

    async def work(settings: Settings, session: AsyncSession) -> str | None:
        if if_empty and await session.scalar(select(Organization.id).limit(1)):
            return None
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", org_slug):
            raise InvalidInput(f"{org_slug!r} is not a valid slug", hint="use a-z, 0-9 and -")
        org = await identity.create_org(session, org_slug, org_name)
        user = await identity.user_by_email(session, email) or await identity.create_user(
            session, email, display_name="Owner", password_hash=hash_password(chosen)
        )
        await identity.set_membership(session, org.id, user.id, Role.OWNER.value)
        raw = api_tokens.generate()
        await identity.add_api_token(
            session,
            org_id=org.id,
            user_id=user.id,
            name="windflow-init",
            token_hash=api_tokens.digest(raw),
            prefix=api_tokens.display_prefix(raw),
            role_cap=Role.OWNER.value,
            expires_at=None,
        )
        return raw

    token = _run(work)
    if token is None:
        return
    console.print(f"Organization [bold]{org_slug}[/bold] created; owner [bold]{email}[/bold].")
    if password is None:
        console.print(f"Password (shown once): [bold]{chosen}[/bold]")
    console.print(f"API token (shown once): [bold]{token}[/bold]")


@user_app.command("add")
def user_add(
    email: str,
    role: Annotated[Role, typer.Option(help="Role in the organization")] = Role.VIEWER,
    password: Annotated[str | None, typer.Option(help="Password (omit for OIDC-only)")] = None,
    org: OrgOption = None,
) -> None:
    """Add a user to an organization (creating the account if needed)."""

    async def work(settings: Settings, session: AsyncSession) -> None:
        organization = await _org(session, org)
        user = await identity.user_by_email(session, email) or await identity.create_user(
            session, email, password_hash=hash_password(password) if password else None
        )
        await identity.set_membership(session, organization.id, user.id, role.value)

    _run(work)
    console.print(f"{email} is now {role.value}.")


@user_app.command("list")
def user_list(org: OrgOption = None) -> None:
    """List the members of an organization."""

    async def work(settings: Settings, session: AsyncSession) -> list[tuple[str, str]]:
        organization = await _org(session, org)
        page = await identity.members(session, organization.id, 0, 10_000)
        return [(m.user.email, m.role) for m in page.items]

    table = Table("email", "role")
    for row in _run(work):
        table.add_row(*row)
    console.print(table)


@token_app.command("create")
def token_create(
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    role_cap: Annotated[Role | None, typer.Option(help="Limit below the user's role")] = None,
    days: Annotated[int | None, typer.Option(help="Expire after this many days")] = None,
    org: OrgOption = None,
) -> None:
    """Create an API token for a user; it is printed once."""

    async def work(settings: Settings, session: AsyncSession) -> str:
        organization = await _org(session, org)
        user = await identity.user_by_email(session, email)
        membership = user and await identity.get_membership(session, organization.id, user.id)
        if user is None or not membership:
            raise NotFound(f"{email} is not a member of {organization.slug}")
        role = Role(membership.role)
        cap = role_cap or role
        if not role.at_least(cap):
            raise InvalidInput(f"role cap {cap.value} is above the user's role {role.value}")
        raw = api_tokens.generate()
        await identity.add_api_token(
            session,
            org_id=organization.id,
            user_id=user.id,
            name=name,
            token_hash=api_tokens.digest(raw),
            prefix=api_tokens.display_prefix(raw),
            role_cap=cap.value,
            expires_at=utcnow() + timedelta(days=days) if days else None,
        )
        return raw

    console.print(_run(work))


@target_app.command("add")
def target_add(
    name: str,
    kind: Annotated[str, typer.Option(help="docker | swarm | kubernetes | vagrant")],
    environment: Annotated[str, typer.Option("--env", help="dev, staging, prod, ...")] = "dev",
    connection: Annotated[str, typer.Option(help="Connection settings as JSON")] = "{}",
    secrets_json: Annotated[str, typer.Option("--secrets", help="Secrets as JSON")] = "{}",
    org: OrgOption = None,
) -> None:
    """Register a target."""

    async def work(settings: Settings, session: AsyncSession) -> None:
        organization = await _org(session, org)
        target_kind = parse_kind(kind)
        try:
            conn, secret_values = json.loads(connection), json.loads(secrets_json)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--connection/--secrets is not valid JSON: {exc}") from exc
        box = SecretsBox(settings.fernet_key)
        await resources.add_target(
            session,
            Target(
                org_id=organization.id,
                name=name,
                kind=target_kind.value,
                environment=environment,
                connection=validate_connection(target_kind, conn),
                secrets_encrypted=box.seal(validate_secrets(target_kind, secret_values)),
            ),
        )

    _run(work)
    console.print(f"Target {name} added.")


@target_app.command("list")
def target_list(org: OrgOption = None) -> None:
    """List targets."""

    async def work(settings: Settings, session: AsyncSession) -> list[tuple[str, str, str]]:
        organization = await _org(session, org)
        page = await resources.list_targets(session, organization.id, 0, 10_000)
        return [(t.name, t.kind, t.environment) for t in page.items]

    table = Table("name", "kind", "environment")
    for row in _run(work):
        table.add_row(*row)
    console.print(table)


@target_app.command("check")
def target_check(name: str, org: OrgOption = None) -> None:
    """Check that a target's orchestrator answers."""

    async def work(settings: Settings, session: AsyncSession) -> connectivity.CheckResult:
        organization = await _org(session, org)
        target = await resources.target_by_name(session, organization.id, name)
        if target is None:
            raise NotFound(f"target {name!r} not found", hint="`windflow target list`")
        spec = target_spec(target, SecretsBox(settings.fernet_key))
        adapter = build_adapter(spec, AdapterOptions.from_settings(settings))
        result: connectivity.CheckResult = await adapter.check()
        return result

    result = _run(work)
    style = "green" if result.reachable else "red"
    console.print(
        f"[{style}]{result.detail}[/{style}] {result.version or ''} ({result.latency_ms} ms)"
    )
    if not result.reachable:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
