"""``windflow mcp``: WindFlow's tools for an MCP client over stdio, as one API-token caller."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from windflow.settings import Settings


async def _serve(settings: Settings, token: str) -> None:
    from api.app import create_app
    from channels.mcp_server import WindFlowMcp

    app = create_app(settings)
    # The app's own lifespan: migrations, the assistant that resumes approved runs, sweeps.
    async with app.router.lifespan_context(app):
        await WindFlowMcp(app.state.windflow, lambda _ctx: token).serve_stdio()


def mcp_command(
    token: Annotated[
        str | None,
        typer.Option("--token", help="API token of the caller (default: settings api_token)"),
    ] = None,
) -> None:
    """Serve WindFlow's tools over MCP on stdin/stdout (for IDEs and agents).

    Runs against this installation's database (WINDFLOW_DATABASE_URL / data dir). The
    caller's role and policies apply; mutations answer approval_required with a plan, and
    run when called again with the approved approval_id and the same arguments. Over HTTP
    the same tools are served by `windflow serve` at /mcp (bearer token).
    """
    settings = Settings()
    raw = token or (settings.api_token.get_secret_value() if settings.api_token else None)
    if not raw:
        typer.echo("Error: no API token: pass --token or set WINDFLOW_API_TOKEN", err=True)
        raise typer.Exit(3)
    asyncio.run(_serve(settings, raw))
