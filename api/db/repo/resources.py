"""Targets, stacks and deployments: always read and written within one organization."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.db.models import Deployment, Stack, Target
from api.db.repo.pages import Page, paginate
from windflow.errors import Conflict, NotFound

OrgOwned = TypeVar("OrgOwned", Target, Stack, Deployment)


async def get_in_org(
    session: AsyncSession, model: type[OrgOwned], org_id: str, object_id: str
) -> OrgOwned:
    """Fetch by id; another organization's object is reported exactly like a missing one."""
    obj = await session.get(model, object_id)
    if obj is None or obj.org_id != org_id:
        raise NotFound(
            f"{model.__name__.lower()} {object_id!r} not found in this organization",
            hint="list them to see the ids you can use",
        )
    return obj


async def target_by_name(session: AsyncSession, org_id: str, name: str) -> Target | None:
    return await session.scalar(select(Target).where(Target.org_id == org_id, Target.name == name))


async def stack_by_name(session: AsyncSession, org_id: str, name: str) -> Stack | None:
    return await session.scalar(select(Stack).where(Stack.org_id == org_id, Stack.name == name))


async def add_target(session: AsyncSession, target: Target) -> Target:
    if await target_by_name(session, target.org_id, target.name):
        raise Conflict(f"a target named {target.name!r} exists", hint="choose another name")
    session.add(target)
    await session.flush()
    return target


async def add_stack(session: AsyncSession, stack: Stack) -> Stack:
    if await stack_by_name(session, stack.org_id, stack.name):
        raise Conflict(f"a stack named {stack.name!r} exists", hint="choose another name")
    session.add(stack)
    await session.flush()
    return stack


def _filtered(query: Select[Any], filters: dict[Any, Any]) -> Select[Any]:
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    return query


async def list_targets(
    session: AsyncSession, org_id: str, offset: int, limit: int, kind: str | None = None
) -> Page[Target]:
    query = _filtered(select(Target).where(Target.org_id == org_id), {Target.kind: kind})
    return await paginate(session, query.order_by(Target.name), offset, limit)


async def list_stacks(session: AsyncSession, org_id: str, offset: int, limit: int) -> Page[Stack]:
    query = select(Stack).where(Stack.org_id == org_id).order_by(Stack.name)
    return await paginate(session, query, offset, limit)


async def list_deployments(
    session: AsyncSession,
    org_id: str,
    offset: int,
    limit: int,
    *,
    stack_id: str | None = None,
    target_id: str | None = None,
    status: str | None = None,
) -> Page[Deployment]:
    query = _filtered(
        select(Deployment).where(Deployment.org_id == org_id),
        {Deployment.stack_id: stack_id, Deployment.target_id: target_id, Deployment.status: status},
    )
    return await paginate(
        session, query.order_by(Deployment.created_at.desc(), Deployment.id), offset, limit
    )


async def latest_deployments(
    session: AsyncSession, stack_id: str, target_id: str, count: int = 2
) -> list[Deployment]:
    rows = await session.scalars(
        select(Deployment)
        .where(Deployment.stack_id == stack_id, Deployment.target_id == target_id)
        .order_by(Deployment.revision.desc())
        .limit(count)
    )
    return list(rows)


async def target_environments(session: AsyncSession, org_id: str) -> set[str]:
    rows = await session.scalars(
        select(Target.environment).where(Target.org_id == org_id).distinct()
    )
    return set(rows)
