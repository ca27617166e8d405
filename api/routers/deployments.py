"""Deployments (read-only here: creating one goes through the tools' approval path) and audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.db.models import Deployment
from api.db.repo import audit, resources
from api.deps import OrgDep, PageDep
from api.schemas import AuditOut, DeploymentOut, Page
from guardrails.rbac import Permission

router = APIRouter(tags=["deployments"])


@router.get("/deployments", response_model=Page[DeploymentOut])
async def list_deployments(
    ctx: OrgDep,
    page: PageDep,
    stack_id: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Page[DeploymentOut]:
    """Deployments, newest first."""
    ctx.require(Permission.DEPLOYMENTS_READ)
    result = await resources.list_deployments(
        ctx.session,
        ctx.org_id,
        page.offset,
        page.limit,
        stack_id=stack_id,
        target_id=target_id,
        status=status,
    )
    return Page[DeploymentOut].of(result, DeploymentOut.model_validate)


@router.get("/deployments/{deployment_id}", response_model=DeploymentOut)
async def get_deployment(deployment_id: str, ctx: OrgDep) -> DeploymentOut:
    ctx.require(Permission.DEPLOYMENTS_READ)
    deployment = await resources.get_in_org(ctx.session, Deployment, ctx.org_id, deployment_id)
    return DeploymentOut.model_validate(deployment)


@router.get("/audit", response_model=Page[AuditOut], tags=["audit"])
async def list_audit(
    ctx: OrgDep,
    page: PageDep,
    tool: Annotated[str | None, Query(max_length=100)] = None,
    outcome: Annotated[str | None, Query(max_length=24)] = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
) -> Page[AuditOut]:
    """The audit trail of tool calls and API changes, newest first."""
    ctx.require(Permission.AUDIT_READ)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    result = await audit.list_entries(
        ctx.session,
        ctx.org_id,
        page.offset,
        page.limit,
        tool=tool,
        outcome=outcome,
        user_id=user_id,
        since=since,
    )
    return Page[AuditOut].of(result, AuditOut.model_validate)
