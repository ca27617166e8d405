"""Stacks: compose sources (or template references) that can be deployed to targets."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.db.models import Stack
from api.db.repo import resources
from api.deps import OrgDep, PageDep
from api.schemas import Page, StackIn, StackOut, StackPatch
from guardrails.rbac import Permission
from tools.stack import load_stack
from windflow.errors import InvalidInput

router = APIRouter(prefix="/stacks", tags=["stacks"])


def _services(stack: Stack) -> list[str]:
    if not stack.compose_source:
        return []
    parsed = load_stack(stack.compose_source, name=stack.name, env=stack.parameters)
    return sorted(parsed.services)


def _out(stack: Stack, services: list[str] | None = None) -> StackOut:
    out = StackOut.model_validate(stack)
    out.services = services if services is not None else _services(stack)
    return out


@router.get("", response_model=Page[StackOut])
async def list_stacks(ctx: OrgDep, page: PageDep) -> Page[StackOut]:
    ctx.require(Permission.STACKS_READ)
    result = await resources.list_stacks(ctx.session, ctx.org_id, page.offset, page.limit)
    return Page[StackOut].of(result, _out)


@router.post("", response_model=StackOut, status_code=status.HTTP_201_CREATED)
async def create_stack(body: StackIn, ctx: OrgDep) -> StackOut:
    """Save a stack. A compose source is parsed and validated against the Compose schema."""
    ctx.require(Permission.STACKS_WRITE)
    if not body.compose_source and not body.template_ref:
        raise InvalidInput(
            "a stack needs a compose_source or a template_ref",
            hint="paste a docker-compose file into compose_source",
        )
    services: list[str] = []
    if body.compose_source:
        parsed = load_stack(
            body.compose_source, name=body.name, file="compose_source", env=body.parameters
        )
        services = sorted(parsed.services)
    stack = Stack(
        org_id=ctx.org_id,
        name=body.name,
        description=body.description,
        compose_source=body.compose_source,
        template_ref=body.template_ref,
        parameters=body.parameters,
        created_by=ctx.user_id,
    )
    await resources.add_stack(ctx.session, stack)
    await ctx.audit("stacks.create", {"name": body.name, "services": services})
    return _out(stack, services)


@router.get("/{stack_id}", response_model=StackOut)
async def get_stack(stack_id: str, ctx: OrgDep) -> StackOut:
    ctx.require(Permission.STACKS_READ)
    return _out(await resources.get_in_org(ctx.session, Stack, ctx.org_id, stack_id))


@router.patch("/{stack_id}", response_model=StackOut)
async def update_stack(stack_id: str, body: StackPatch, ctx: OrgDep) -> StackOut:
    ctx.require(Permission.STACKS_WRITE)
    stack = await resources.get_in_org(ctx.session, Stack, ctx.org_id, stack_id)
    source = body.compose_source if body.compose_source is not None else stack.compose_source
    parameters = body.parameters if body.parameters is not None else stack.parameters
    services: list[str] = []
    if source:
        services = sorted(
            load_stack(source, name=stack.name, file="compose_source", env=parameters).services
        )
    if body.description is not None:
        stack.description = body.description
    stack.compose_source = source
    stack.parameters = parameters
    await ctx.audit("stacks.update", {"name": stack.name, "services": services})
    await ctx.session.flush()
    await ctx.session.refresh(stack)
    return _out(stack, services)


@router.delete("/{stack_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_stack(stack_id: str, ctx: OrgDep) -> None:
    """Delete a stack definition and its deployment history (nothing running is touched)."""
    ctx.require(Permission.STACKS_WRITE)
    stack = await resources.get_in_org(ctx.session, Stack, ctx.org_id, stack_id)
    await ctx.audit("stacks.delete", {"name": stack.name})
    await ctx.session.delete(stack)
