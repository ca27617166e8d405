"""Targets: the Docker hosts, Swarms, Kubernetes clusters and Vagrant VMs WindFlow manages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.db.models import Target
from api.db.repo import resources
from api.deps import OrgDep, PageDep
from api.schemas import Page, TargetCheckOut, TargetIn, TargetOut, TargetPatch
from guardrails.rbac import Permission
from tools.targets import TargetKind, validate_connection, validate_secrets

router = APIRouter(prefix="/targets", tags=["targets"])


def _out(target: Target) -> TargetOut:
    return TargetOut(
        id=target.id,
        name=target.name,
        kind=TargetKind(target.kind),
        environment=target.environment,
        description=target.description,
        connection=target.connection,
        has_secrets=bool(target.secrets_encrypted),
        created_at=target.created_at,
        updated_at=target.updated_at,
    )


@router.get("", response_model=Page[TargetOut])
async def list_targets(
    ctx: OrgDep, page: PageDep, kind: Annotated[TargetKind | None, Query()] = None
) -> Page[TargetOut]:
    """Targets of the organization."""
    ctx.require(Permission.TARGETS_READ)
    result = await resources.list_targets(
        ctx.session, ctx.org_id, page.offset, page.limit, kind.value if kind else None
    )
    return Page[TargetOut].of(result, _out)


@router.post("", response_model=TargetOut, status_code=status.HTTP_201_CREATED)
async def create_target(body: TargetIn, ctx: OrgDep) -> TargetOut:
    """Register a target. Connection settings are validated per kind; secrets are encrypted."""
    ctx.require(Permission.TARGETS_WRITE)
    target = Target(
        org_id=ctx.org_id,
        name=body.name,
        kind=body.kind.value,
        environment=body.environment,
        description=body.description,
        connection=validate_connection(body.kind, body.connection),
        secrets_encrypted=ctx.state.secrets_box.seal(validate_secrets(body.kind, body.secrets)),
    )
    await resources.add_target(ctx.session, target)
    await ctx.audit(
        "targets.create",
        {"name": body.name, "kind": body.kind.value, "environment": body.environment},
        target_id=target.id,
    )
    return _out(target)


@router.get("/{target_id}", response_model=TargetOut)
async def get_target(target_id: str, ctx: OrgDep) -> TargetOut:
    ctx.require(Permission.TARGETS_READ)
    return _out(await resources.get_in_org(ctx.session, Target, ctx.org_id, target_id))


@router.patch("/{target_id}", response_model=TargetOut)
async def update_target(target_id: str, body: TargetPatch, ctx: OrgDep) -> TargetOut:
    """Change a target's environment, description, connection or secrets."""
    ctx.require(Permission.TARGETS_WRITE)
    target = await resources.get_in_org(ctx.session, Target, ctx.org_id, target_id)
    kind = TargetKind(target.kind)
    if body.environment is not None:
        target.environment = body.environment
    if body.description is not None:
        target.description = body.description
    if body.connection is not None:
        target.connection = validate_connection(kind, body.connection)
    if body.secrets is not None:
        target.secrets_encrypted = ctx.state.secrets_box.seal(validate_secrets(kind, body.secrets))
    changed = sorted(k for k, v in body.model_dump(exclude_unset=True).items() if v is not None)
    await ctx.audit("targets.update", {"fields": changed}, target_id=target.id)
    await ctx.session.flush()
    await ctx.session.refresh(target)
    return _out(target)


@router.delete("/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_target(target_id: str, ctx: OrgDep) -> None:
    """Forget a target. Nothing running on it is touched."""
    ctx.require(Permission.TARGETS_WRITE)
    target = await resources.get_in_org(ctx.session, Target, ctx.org_id, target_id)
    await ctx.audit("targets.delete", {"name": target.name})
    await ctx.session.delete(target)


@router.post("/{target_id}/check", response_model=TargetCheckOut)
async def check_target(target_id: str, ctx: OrgDep) -> TargetCheckOut:
    """Check that WindFlow can reach the target's orchestrator."""
    ctx.require(Permission.TARGETS_READ)
    target = await resources.get_in_org(ctx.session, Target, ctx.org_id, target_id)
    spec = ctx.state.tooling.spec(target)
    # The adapter knows its kind's connection details (kubeconfig, swarm role, provider).
    result = await ctx.state.tooling.adapter(spec).check()
    return TargetCheckOut(
        target_id=target.id,
        reachable=result.reachable,
        detail=result.detail,
        version=result.version,
        latency_ms=result.latency_ms,
    )
