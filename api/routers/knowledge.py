"""Searching the knowledge base: docs, runbooks, templates and past incidents, cited."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import OrgDep
from api.schemas import Output
from guardrails.rbac import Permission

router = APIRouter(prefix="/knowledge", tags=["knowledge"])


class HitOut(Output):
    source: str
    title: str
    kind: str
    text: str
    score: float


class SearchOut(Output):
    hits: list[HitOut]
    documents: int
    chunks: int


@router.get("/search", response_model=SearchOut)
async def search(
    ctx: OrgDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    kind: Annotated[list[Literal["doc", "runbook", "template", "incident"]] | None, Query()] = None,
    k: Annotated[int, Query(ge=1, le=20)] = 5,
) -> SearchOut:
    """The best passages for a question, among global documents and your organization's."""
    ctx.require(Permission.CHAT_USE)
    service = ctx.state.knowledge
    if service.base is None:
        from knowledge.retrieval import KnowledgeUnavailable  # the store's own error (503)

        raise KnowledgeUnavailable(
            service.error or "the knowledge base is still loading or disabled",
            hint="retry in a moment; check WINDFLOW_KNOWLEDGE_ENABLED and the server log",
        )
    hits = await service.base.asearch(
        q, k, kinds=list(kind) if kind else None, org_id=ctx.org_id, max_per_source=2
    )
    return SearchOut(
        hits=[HitOut(**h.snippet()) for h in hits],
        documents=service.base.document_count,
        chunks=len(service.base),
    )
