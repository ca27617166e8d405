"""The audit trail as JSON lines, streamed, with each record's place in the hash chain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.db.repo import audit
from api.deps import OrgDep
from guardrails.rbac import Permission

router = APIRouter(tags=["audit"])


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_audit(
    ctx: OrgDep,
    format: Annotated[Literal["jsonl"], Query(description="Only JSON lines")] = "jsonl",
    since: datetime | None = None,
) -> StreamingResponse:
    """Every audit record of the organization, oldest first, one JSON object per line
    (seq, prev_hash and hash included, so the chain can be checked outside WindFlow)."""
    ctx.require(Permission.AUDIT_READ)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    lines = audit.export_lines(ctx.state.db, ctx.org_id, since)
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )
