"""Searching WindFlow's knowledge: its docs, the team's runbooks, templates, past incidents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.base import Tool, ToolContext, ToolInput, tool
from windflow.errors import ConfigurationError

SNIPPET_CHARS = 1200


class KnowledgeQuery(ToolInput):
    query: str = Field(min_length=1, max_length=500, description="What to look for")
    kinds: list[Literal["doc", "runbook", "template", "incident"]] = Field(
        default_factory=list, description="Only these kinds of documents (all when empty)"
    )
    limit: int = Field(default=5, ge=1, le=10)


class KnowledgeHit(BaseModel):
    source: str = Field(description="Cite this when you use the text")
    title: str
    kind: str
    text: str
    score: float


class KnowledgeHits(BaseModel):
    hits: list[KnowledgeHit]


@tool(risk="read", permission="chat:use", targets=set())
async def search_knowledge(ctx: ToolContext, args: KnowledgeQuery) -> KnowledgeHits:
    """Search WindFlow's docs, the team's runbooks, the template catalog and past incidents
    (exact error strings and image names work too). Cite the sources you use."""
    if ctx.knowledge is None:
        raise ConfigurationError(
            "the knowledge base is not available (still loading, or disabled)",
            hint="try again in a moment, or set WINDFLOW_KNOWLEDGE_ENABLED=true",
        )
    hits = await ctx.knowledge.asearch(
        args.query,
        args.limit,
        kinds=list(args.kinds) or None,
        org_id=ctx.caller.org_id,
        max_per_source=2,
    )
    return KnowledgeHits(
        hits=[
            KnowledgeHit(
                source=h.source,
                title=h.title,
                kind=h.kind,
                text=h.text[:SNIPPET_CHARS],
                score=h.score,
            )
            for h in hits
        ]
    )


async def record_incident(
    ctx: ToolContext, *, subject: str, title: str, text: str, tags: list[str]
) -> None:
    """Keep the latest diagnosis of ``subject`` (per organization) as an ``incident``
    document, so later questions about the same failure find it. No-op without a store."""
    if ctx.knowledge is None or ctx.target is None:
        return
    await ctx.knowledge.aingest_texts(
        [
            {
                "source": f"incident:{ctx.target.name}/{subject}",
                "title": title,
                "text": text,
                "kind": "incident",
                "org_id": ctx.caller.org_id,
                "tags": tags,
                "target_kind": [ctx.target.kind.value],
            }
        ]
    )


KNOWLEDGE_TOOLS: list[Tool[Any, Any]] = [search_knowledge]
