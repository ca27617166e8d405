"""The organization's policy document: read it, replace it (admins and owners)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.db.repo import policies
from api.deps import OrgDep
from api.schemas import Output
from guardrails.policies.document import MAX_DOCUMENT_BYTES, parse_policy
from guardrails.rbac import Permission

router = APIRouter(prefix="/policies", tags=["policies"])


class PolicyIn(BaseModel):
    # Not stripped: line numbers in error messages must match the file as written.
    model_config = ConfigDict(extra="forbid")

    document: str = Field(max_length=MAX_DOCUMENT_BYTES, description="The policy document, as YAML")


class PolicyOut(Output):
    source: str = Field(description="'document', or 'settings' when none is stored")
    document: str | None
    version: int | None
    updated_by: str | None
    updated_at: datetime | None
    parsed: dict[str, Any] | None


@router.get("", response_model=PolicyOut)
async def get_policy(ctx: OrgDep) -> PolicyOut:
    """The organization's policy document; without one, the settings' defaults apply."""
    ctx.require(Permission.POLICIES_READ)
    row = await policies.get_policy(ctx.session, ctx.org_id)
    if row is None:
        return PolicyOut(
            source="settings",
            document=None,
            version=None,
            updated_by=None,
            updated_at=None,
            parsed=None,
        )
    return PolicyOut(
        source="document",
        document=row.document,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        parsed=parse_policy(row.document).model_dump(mode="json"),
    )


@router.put("", response_model=PolicyOut)
async def put_policy(body: PolicyIn, ctx: OrgDep) -> PolicyOut:
    """Replace the policy document. Invalid YAML or rules are refused with their lines."""
    ctx.require(Permission.POLICIES_WRITE)
    row, parsed = await policies.put_policy(ctx.session, ctx.org_id, body.document, ctx.user_id)
    await ctx.audit(
        "policies.put", {"version": row.version, "rules": [r.name for r in parsed.rules]}
    )
    return PolicyOut(
        source="document",
        document=row.document,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        parsed=parsed.model_dump(mode="json"),
    )
