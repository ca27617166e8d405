"""The knowledge base for the API process: opened in the background, kept fed.

Opening the store and loading the embedding model takes about a second, so the API is
ready before it is; until then retrieval answers nothing and ``search_knowledge`` says
it is loading. Every start re-ingests WindFlow's docs, the template catalog and the
configured runbook folders; unchanged documents cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from knowledge.templates.catalog import TemplateCatalog
from knowledge.templates.model import Template
from windflow.errors import WindFlowError
from windflow.settings import Settings

if TYPE_CHECKING:
    from knowledge.retrieval import KnowledgeBase, KnowledgeItem

log = logging.getLogger("windflow.knowledge")


def template_item(template: Template) -> KnowledgeItem:
    from knowledge.retrieval import KnowledgeItem

    parameters = "\n".join(f"- {p.name} ({p.type}): {p.description}" for p in template.parameters)
    text = (
        f"# {template.name} {template.version}\n\n{template.description}\n\n"
        f"Category: {template.category}. Tags: {', '.join(template.tags)}.\n"
        f"Deploy it with deploy_template (template id `{template.id}`).\n\n"
        f"Parameters:\n{parameters or '- none'}\n"
    )
    return KnowledgeItem(
        source=f"template:{template.id}",
        title=template.name,
        text=text,
        kind="template",
        tags=list(template.tags),
    )


class KnowledgeService:
    """The assistant's ``Retriever``; ``base`` is None until loaded (or when disabled)."""

    def __init__(self, settings: Settings, templates: TemplateCatalog) -> None:
        self.settings = settings
        self.templates = templates
        self.base: KnowledgeBase | None = None
        self.error: str | None = None
        self.problems: list[str] = []
        self.loaded = asyncio.Event()

    async def load(self) -> None:
        # Chroma and onnxruntime cost half a second to import: only when knowledge is on.
        from knowledge.retrieval import KnowledgeBase, MiniLMEmbedding

        try:
            token = self.settings.chroma_token
            embedding = await asyncio.to_thread(  # loads the model: off the event loop
                MiniLMEmbedding, threads=self.settings.knowledge_embedding_threads
            )
            base = await KnowledgeBase.aopen(
                None if self.settings.chroma_url else self.settings.resolved_knowledge_dir,
                server_url=self.settings.chroma_url,
                server_headers={"Authorization": f"Bearer {token.get_secret_value()}"}
                if token
                else None,
                embedding=embedding,
            )
            report = await base.aingest_builtin_docs()
            report.merge(await base.aingest_texts([template_item(t) for t in self.templates]))
        except WindFlowError as exc:
            self.error = exc.message
            log.error("the knowledge base is unavailable: %s (%s)", exc.message, exc.hint)
            self.loaded.set()
            return
        self.base = base
        for folder in self.settings.runbook_dirs:
            try:
                report.merge(await base.aingest_path(folder, kind="runbook"))
            except WindFlowError as exc:  # one bad folder must not hide the rest
                self.problems.append(f"{folder}: {exc.message}")
                log.warning("runbooks in %s were not ingested: %s", folder, exc.message)
        log.info("knowledge ready: %s", report.summary())
        self.loaded.set()

    async def retrieve(self, org_id: str, query: str, limit: int) -> list[dict[str, Any]]:
        if self.base is None:
            return []
        return await self.base.retrieve(org_id, query, limit)


@asynccontextmanager
async def loading_knowledge(service: KnowledgeService) -> AsyncIterator[None]:
    if not service.settings.knowledge_enabled:
        service.loaded.set()
        yield
        return
    task = asyncio.create_task(service.load(), name="windflow-knowledge-load")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
