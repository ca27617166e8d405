"""WindFlow's tools over the Model Context Protocol (stdio and streamable HTTP).

An MCP client (an IDE agent, another assistant) gets the same tools as WindFlow's own
assistant, through the same door: the caller is identified by a WindFlow API token, every
call goes through guardrails.gate (RBAC, policies, audit), and a mutation is never run on
the first call. It answers ``approval_required`` with the approval id and the plan; once a
person approved it (chat UI, CLI, API), the client calls the tool again with exactly the same
arguments plus ``approval_id``. The arguments are hashed like the gate does and must match
the approved ones; the approval is consumed, so a second call with it is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from fastapi import FastAPI
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from api.deps import authenticate
from api.state import AppState
from guardrails.rbac import Principal
from tools.base import Tool, ToolResult
from windflow.errors import (
    ApprovalError,
    AuthenticationFailed,
    InvalidInput,
    RateLimited,
    WindFlowError,
)

# Extra arguments every tool takes over MCP, next to its own input schema.
TARGET_ARG = "target"
APPROVAL_ARG = "approval_id"
MCP_PATH = "/mcp"


@dataclass(frozen=True)
class McpCaller:
    user_id: str
    org_id: str
    principal: Principal


TokenSource = Callable[[ServerRequestContext[Any, Any]], str | None]


def bearer_of(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The bearer token of the HTTP request that carried this MCP message."""
    request = ctx.request
    header = getattr(request, "headers", {}).get("authorization", "") if request else ""
    scheme, _, token = str(header).partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _input_schema(tool: Tool[Any, Any]) -> dict[str, Any]:
    schema = dict(tool.function_schema()["function"]["parameters"])
    properties = dict(schema.get("properties") or {})
    properties[TARGET_ARG] = {
        "type": "string",
        "description": "Target (Docker host, Swarm, cluster, VM) name or id to act on",
    }
    if tool.mutates:
        properties[APPROVAL_ARG] = {
            "type": "string",
            "description": "The id of the approved request for exactly these arguments; "
            "omit it to get the plan and an approval to ask a person for",
        }
    schema["properties"] = properties
    return schema


def _description(tool: Tool[Any, Any]) -> str:
    if not tool.mutates:
        return f"{tool.description}\n\nRisk: read."
    return (
        f"{tool.description}\n\nRisk: {tool.risk}. Needs a person's approval: the first call "
        "returns approval_required with an approval id and the plan; after it is approved, "
        f"call again with the same arguments and {APPROVAL_ARG}."
    )


def _result(result: ToolResult) -> types.CallToolResult:
    envelope = result.model_dump(mode="json", exclude_none=True)
    text = json.dumps(envelope, sort_keys=True)
    if result.status == "ok":
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=envelope
        )
    if result.status == "approval_required":
        summary = result.plan.summary if result.plan else result.tool
        note = (
            f"Approval required ({result.approval_id}): {summary}. Ask a person to approve it "
            f"in WindFlow, then call {result.tool} again with the same arguments and "
            f'"{APPROVAL_ARG}": "{result.approval_id}".'
        )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=note)], structured_content=envelope
        )
    hint = f" ({result.hint})" if result.hint else ""
    return _error(f"{result.tool} {result.status}: {result.error}{hint}", envelope)


def _error(message: str, envelope: dict[str, Any] | None = None) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)],
        structured_content=envelope,
        is_error=True,
    )


class WindFlowMcp:
    """The MCP server over one running WindFlow app state."""

    def __init__(self, state: AppState, token_source: TokenSource) -> None:
        self.state = state
        self.token_source = token_source
        self.server: Server[Any] = Server(
            "windflow",
            instructions="WindFlow's infrastructure tools. Mutations need a person's approval.",
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )

    async def _caller(self, ctx: ServerRequestContext[Any, Any]) -> McpCaller:
        raw = self.token_source(ctx)
        if not raw:
            raise AuthenticationFailed(
                "no WindFlow API token",
                hint="send 'Authorization: Bearer <token>' or start `windflow mcp --token ...`",
            )
        async with self.state.db.sessions() as session:
            caller = await authenticate(self.state, session, raw)
            await session.commit()
        principal = caller.principal
        org_id = principal.token_org_id
        if org_id is None:
            member_of = [o for o in principal.roles if principal.is_member(o)]
            if len(member_of) != 1:
                raise InvalidInput(
                    "this token does not name one organization",
                    hint="use an API token (windflow token create): it belongs to one",
                )
            org_id = member_of[0]
        return McpCaller(user_id=caller.user.id, org_id=org_id, principal=principal)

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        caller = await self._caller(ctx)
        tooling = self.state.tooling
        visible = tooling.gate.visible_tools(
            tooling.registry.for_kind(None), caller.principal, caller.org_id, None
        )
        return types.ListToolsResult(
            tools=[
                types.Tool(name=t.name, description=_description(t), input_schema=_input_schema(t))
                for t in visible
            ]
        )

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            caller = await self._caller(ctx)
            return _result(await self._call(caller, params.name, dict(params.arguments or {})))
        except (AuthenticationFailed, InvalidInput, ApprovalError, RateLimited) as exc:
            return _error(str(exc))
        except WindFlowError as exc:
            return _error(f"{exc.code}: {exc}")

    async def _call(self, caller: McpCaller, name: str, arguments: dict[str, Any]) -> ToolResult:
        tooling = self.state.tooling
        tool = tooling.registry.get(name)
        target_name = arguments.pop(TARGET_ARG, None)
        approval_id = arguments.pop(APPROVAL_ARG, None)
        spec = None
        if target_name is not None:
            async with self.state.db.sessions() as session:
                spec = await tooling.resolve_target(session, caller.org_id, str(target_name))
        tool_ctx = tooling.context(user_id=caller.user_id, org_id=caller.org_id, target=spec)
        if approval_id is None:
            return await tooling.gate.call(tool, tool_ctx, caller.principal, arguments)
        view = await tooling.approvals.get(caller.principal, caller.org_id, str(approval_id))
        args = tool.parse(arguments)
        if view.tool != tool.name or view.args_hash != tool.hash_of(tool_ctx, args):
            raise ApprovalError(
                f"approval {approval_id} was given for other arguments or another tool/target",
                hint="call again with exactly the arguments and target of the approved request",
            )
        return await tooling.gate.execute_approved(
            tool, tool_ctx, caller.principal, str(approval_id)
        )

    # --- transports ---
    async def serve_stdio(self) -> None:
        async with stdio_server() as (read_stream, write_stream):
            await self.server.run(
                read_stream, write_stream, self.server.create_initialization_options()
            )


class McpHttpChannel:
    """The streamable HTTP endpoint mounted into the API app at /mcp."""

    def __init__(self, state: AppState, host: str) -> None:
        self.mcp = WindFlowMcp(state, bearer_of)
        # Same DNS-rebinding guard the SDK applies on localhost; a server bound to another
        # address is reached under its own name, which the SDK cannot know in advance.
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=host in ("127.0.0.1", "localhost", "::1"),
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
        self.manager = StreamableHTTPSessionManager(
            app=self.mcp.server, security_settings=security, stateless=True, json_response=True
        )

    def install(self, app: FastAPI) -> None:
        endpoint = StreamableHTTPASGIApp(self.manager)
        app.router.routes.append(
            Route(MCP_PATH, endpoint=endpoint, methods=["GET", "POST", "DELETE"])
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # The manager's task group must be left by the task that entered it; the app's
        # lifespan may start in one task and stop in another (test fixtures, some servers),
        # so the manager lives in a task of its own.
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with self.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(hold(), name="windflow-mcp-sessions")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():
            task.result()  # the manager failed to start: raise its error here
        try:
            yield
        finally:
            stop.set()
            await task
