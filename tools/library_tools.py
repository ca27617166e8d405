"""Tools over the organization's saved stacks: what can be deployed by name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tools.base import StackLibrary, Tool, ToolContext, ToolInput, tool
from windflow.errors import ConfigurationError, NotFound

NAME = r"^[a-z0-9][a-z0-9_-]{0,99}$"


class NoArguments(ToolInput):
    pass


class SavedStackRef(ToolInput):
    name: str = Field(pattern=NAME, description="Name of a saved stack")


class SavedStackSummary(BaseModel):
    name: str
    description: str
    source: str = Field(description="'compose' or the template it comes from")


class SavedStackList(BaseModel):
    stacks: list[SavedStackSummary]


class SavedStackSource(BaseModel):
    name: str
    description: str
    compose: str = Field(description="The compose file to pass to deploy_stack unchanged")


def _library(ctx: ToolContext) -> StackLibrary:
    if ctx.library is None:
        raise ConfigurationError("no stack library is available in this context")
    return ctx.library


@tool(risk="read", permission="stacks:read", targets=set())
async def saved_stacks(ctx: ToolContext, args: NoArguments) -> SavedStackList:
    """List the stacks saved in WindFlow for this organization (names and descriptions)."""
    found = await _library(ctx).list(ctx.caller.org_id)
    return SavedStackList(
        stacks=[
            SavedStackSummary(
                name=s.name,
                description=s.description,
                source=f"template {s.template_ref}" if s.template_ref else "compose",
            )
            for s in found
        ]
    )


@tool(risk="read", permission="stacks:read", targets=set())
async def saved_stack(ctx: ToolContext, args: SavedStackRef) -> SavedStackSource:
    """Fetch the compose file of a saved stack, to deploy it with deploy_stack."""
    library = _library(ctx)
    found = await library.get(ctx.caller.org_id, args.name)
    if found is None:
        names = ", ".join(s.name for s in await library.list(ctx.caller.org_id)) or "none yet"
        raise NotFound(f"no saved stack named {args.name!r}", hint=f"saved stacks: {names}")
    if not found.compose:
        raise NotFound(
            f"stack {args.name!r} refers to template {found.template_ref!r}, "
            "which has no compose source here",
            hint="save the stack with a compose file",
        )
    return SavedStackSource(name=found.name, description=found.description, compose=found.compose)


LIBRARY_TOOLS: list[Tool[Any, Any]] = [saved_stacks, saved_stack]
