"""The knowledge base: documents chunked into Chroma, searched by meaning *and* by words.

Storage is a Chroma collection, in a folder given by the caller (``PersistentClient``;
WindFlow uses ``<data_dir>/knowledge``) or on a Chroma server (``HttpClient``). Each
chunk's id is a hash of its organization, source and position; each chunk carries its
document's content hash, so ingesting an unchanged document writes nothing and a changed
one replaces all its chunks.

A search runs the query twice over the chunks the caller may see (organization
``global`` plus their own): by cosine similarity of MiniLM vectors in Chroma, and by BM25
over an in-process index of the same chunks; the two rankings are merged by reciprocal
rank fusion (k = 60). Vectors find paraphrases; BM25 finds ``ECONNREFUSED``,
``exit code 137`` or ``postgres:16``.

Chroma calls are synchronous. The ``a*`` methods run them in a worker thread; any number
of threads may search while one ingests (writers are serialized).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from chromadb.api.models.Collection import Collection

from knowledge.retrieval.client import open_client
from knowledge.retrieval.documents import (
    GLOBAL,
    TEXT_SUFFIXES,
    KnowledgeItem,
    Skipped,
    file_item,
    item_from,
    normalize_tags,
    normalize_target_kinds,
)
from knowledge.retrieval.embedding import MiniLMEmbedding, Vectors
from knowledge.retrieval.errors import store_errors
from knowledge.retrieval.filters import Metadata, SearchFilter
from knowledge.retrieval.index import LocalIndex
from knowledge.retrieval.results import Hit, IngestReport, fuse
from knowledge.retrieval.writer import Writer
from windflow.errors import InvalidInput

DEFAULT_COLLECTION = "windflow_knowledge"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # holds knowledge/ (checkout or site-packages)
BUILTIN_DOCS = PACKAGE_ROOT / "knowledge" / "docs"
CANDIDATES = 30  # per ranking, before fusion
# How the vector side narrows to the chunks a search may see: see KnowledgeBase._vector.
POST_FILTER_MAX = 1000
IDS_MAX = 5000
MAX_K = 50
MAX_QUERY_CHARS = 2000
PAGE = 1000
Mode = Literal["hybrid", "vector", "lexical"]


class KnowledgeBase:
    """Ingest documents, then search them with filters and per-organization visibility."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        server_url: str | None = None,
        server_headers: Mapping[str, str] | None = None,
        collection: str = DEFAULT_COLLECTION,
        embedding: MiniLMEmbedding | None = None,
    ) -> None:
        self._client, self.location = open_client(path, server_url, server_headers)
        self._embedding = embedding or MiniLMEmbedding()
        with store_errors("open its collection", self.location):
            self._collection: Collection = self._client.get_or_create_collection(
                collection,
                embedding_function=self._embedding,  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}},
            )
        self._index = LocalIndex()
        self._lock = threading.RLock()  # the local index: short holds, readers and writers
        self._write_lock = threading.Lock()  # one writer (or refresh) at a time
        with store_errors("tell its batch size", self.location):
            batch = self._client.get_max_batch_size()
        self._writer = Writer(
            self._collection,
            self._embedding,
            self._index,
            self._lock,
            self.location,
            batch,
            self._write_lock,
        )
        self.refresh()

    @classmethod
    async def aopen(cls, path: Path | str | None = None, **options: Any) -> KnowledgeBase:
        """Open without blocking the event loop (loading the model and the index takes ~1 s)."""
        return await asyncio.to_thread(cls, path, **options)

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of chunks."""
        with self._lock:
            return len(self._index)

    @property
    def document_count(self) -> int:
        with self._lock:
            return self._index.document_count

    def refresh(self) -> None:
        """Rebuild the in-process index from Chroma.

        Searches see what this index holds: with several processes on one Chroma server,
        call it to see what the others ingested (opening a knowledge base does it).
        """
        records: list[tuple[str, str, Metadata]] = []
        with self._write_lock, store_errors("read its chunks", self.location):
            offset = 0
            while True:
                page = self._collection.get(
                    include=["documents", "metadatas"], limit=PAGE, offset=offset
                )
                texts, metas = page["documents"] or [], page["metadatas"] or []
                records.extend(zip(page["ids"], texts, metas, strict=True))
                if len(page["ids"]) < PAGE:
                    break
                offset += PAGE
            fresh = LocalIndex()
            fresh.load(records)  # outside the index lock: searches go on meanwhile
            with self._lock:
                self._index.adopt(fresh)

    def search(
        self,
        query: str,
        k: int = 5,
        kinds: str | Sequence[str] | None = None,
        org_id: str | None = None,
        target_kind: str | None = None,
        tags: str | Sequence[str] | None = None,
        *,
        mode: Mode = "hybrid",
        max_per_source: int | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query`` among what ``org_id`` may see.

        ``kinds`` and ``tags`` match any of their values; ``target_kind`` also matches
        documents that apply to any target. ``org_id=None`` sees global documents only.
        ``max_per_source`` keeps at most that many chunks of one document (more variety).
        ``mode`` is for evaluation: ``vector`` or ``lexical`` ranking alone.
        """
        text = self._check_query(query, k, mode)
        where = SearchFilter.build(org_id=org_id, kinds=kinds, target_kind=target_kind, tags=tags)
        depth = max(CANDIDATES, 3 * k)
        with self._lock:
            allowed, total = self._index.select(where), len(self._index)
        if not allowed:
            return []
        rankings: list[list[tuple[str, float]]] = []
        if mode != "lexical":
            rankings.append(self._vector(text, depth, where, allowed, total))
        if mode != "vector":
            with self._lock:
                everything = len(allowed) == len(self._index)
                rankings.append(self._index.lexical(text, depth, None if everything else allowed))
        ranked = fuse(rankings) if mode == "hybrid" else rankings[0]
        if max_per_source is not None:
            ranked = self._diverse(ranked, max(1, max_per_source))
        return self._hits(ranked[:k])

    def _diverse(self, ranked: list[tuple[str, float]], limit: int) -> list[tuple[str, float]]:
        kept: list[tuple[str, float]] = []
        counts: dict[str, int] = {}
        with self._lock:
            for cid, score in ranked:
                chunk = self._index.chunk(cid)
                source = str(chunk.meta.get("source")) if chunk else cid
                if counts.get(source, 0) < limit:
                    counts[source] = counts.get(source, 0) + 1
                    kept.append((cid, score))
        return kept

    @staticmethod
    def _check_query(query: object, k: object, mode: str) -> str:
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput(
                "the search query is empty",
                hint="ask a question or give keywords, e.g. 'container exits with code 137'",
            )
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(
                f"the search query has {len(query):,} characters; the limit is {MAX_QUERY_CHARS:,}",
                hint="search with the error message or a short question, not a whole log",
            )
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be 1 to {MAX_K}, got {k!r}", hint="k=5 is a good default")
        if mode not in ("hybrid", "vector", "lexical"):
            raise InvalidInput(f"unknown mode {mode!r}", hint="hybrid, vector or lexical")
        return query.strip()

    def _vector(
        self, query: str, depth: int, where: SearchFilter, allowed: set[str], total: int
    ) -> list[tuple[str, float]]:
        """Nearest chunks among ``allowed``, the cheapest way Chroma offers.

        Chroma's metadata filter costs 5-15 ms over 10,000 chunks; an unfiltered query for
        1,000 neighbours about 3 ms, one restricted to a list of 2,000 ids about 2 ms. So:
        when the caller sees most chunks, ask for enough neighbours and keep the allowed
        ones; else restrict the query to the allowed ids; only for huge selections filter
        by metadata in Chroma.
        """
        vector = self._embedding.embed([query])  # one row
        share = len(allowed) / max(1, total)
        fetch = min(total, math.ceil(1.5 * depth / share))
        if fetch <= POST_FILTER_MAX:
            ranked = self._nearest(vector, fetch)
            kept = [(cid, score) for cid, score in ranked if cid in allowed]
            if len(kept) >= min(depth, len(allowed)):
                return kept[:depth]
        count = min(depth, len(allowed))
        if len(allowed) <= IDS_MAX:
            return self._nearest(vector, count, ids=sorted(allowed))
        ranked = self._nearest(vector, count, where=where.where())
        return [(cid, score) for cid, score in ranked if cid in allowed]

    def _nearest(
        self,
        vector: Vectors,
        count: int,
        *,
        ids: list[str] | None = None,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[str, float]]:
        with store_errors("search", self.location):
            found = self._collection.query(
                query_embeddings=vector,
                n_results=count,
                ids=ids,
                where=where,
                include=["distances"],
            )
        ids = found["ids"][0] if found["ids"] else []
        distances = (found["distances"] or [[]])[0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def _hits(self, ranked: list[tuple[str, float]]) -> list[Hit]:
        hits: list[Hit] = []
        with self._lock:
            for cid, score in ranked:
                chunk = self._index.chunk(cid)
                if chunk is not None:  # removed since it was ranked: leave it out
                    hits.append(Hit.of(cid, chunk.text, chunk.meta, score))
        return hits

    # -- writing -----------------------------------------------------------------------------

    def ingest_texts(self, items: Iterable[KnowledgeItem | Mapping[str, Any]]) -> IngestReport:
        """Add or update in-memory documents (templates, past diagnoses, ...)."""
        return self._writer.write([item_from(item) for item in items], origin="text")

    def ingest_path(
        self,
        path: Path | str,
        *,
        source_root: Path | str | None = None,
        kind: str = "doc",
        org_id: str = GLOBAL,
        tags: str | Sequence[str] | None = None,
        target_kind: str | Sequence[str] | None = None,
    ) -> IngestReport:
        """Ingest a Markdown/text file, or every such file under a folder.

        Sources are paths relative to ``source_root`` (absolute paths without it). For a
        folder, documents previously ingested from it whose file is gone are removed.
        Unreadable, binary or malformed files are skipped with a reason, never fatal.
        """
        root = Path(path)
        if not root.exists():
            raise InvalidInput(f"{root} does not exist", hint="give a Markdown file or a folder")
        base = Path(source_root).resolve() if source_root is not None else None
        default_tags = normalize_tags(tags)
        default_targets = normalize_target_kinds(target_kind)
        files = [root] if not root.is_dir() else sorted(_text_files(root))
        items: list[KnowledgeItem] = []
        skipped: list[Skipped] = []
        for file in files:
            found = file_item(
                file,
                _source(file, base),
                kind=kind,
                org_id=org_id,
                tags=default_tags,
                target_kind=default_targets,
            )
            if isinstance(found, Skipped):
                skipped.append(found)
            else:
                items.append(found)
        report = self._writer.write(items, origin="file")
        report.skipped.extend(skipped)
        if root.is_dir():
            folder = _source(root, base)
            prefix = "" if folder == "." else folder.rstrip("/") + "/"
            seen = {item.source for item in items} | {s.source for s in skipped}
            with self._lock:
                gone = [
                    s for s in self._index.sources_under(org_id, prefix, "file") if s not in seen
                ]
            report.merge(self._writer.remove(gone, org_id))
        return report

    def ingest_builtin_docs(self) -> IngestReport:
        """WindFlow's own docs and runbooks (``knowledge/docs``), global, sources
        ``knowledge/docs/...``. Cheap when nothing changed: call it at every start."""
        return self.ingest_path(BUILTIN_DOCS, source_root=PACKAGE_ROOT)

    def remove_sources(self, sources: Iterable[str], *, org_id: str = GLOBAL) -> IngestReport:
        """Forget documents by source (files or texts) of one organization."""
        return self._writer.remove(list(sources), org_id)

    # -- async -------------------------------------------------------------------------------

    async def asearch(self, query: str, k: int = 5, **filters: Any) -> list[Hit]:
        return await asyncio.to_thread(self.search, query, k, **filters)

    async def aingest_texts(
        self, items: Iterable[KnowledgeItem | Mapping[str, Any]]
    ) -> IngestReport:
        return await asyncio.to_thread(self.ingest_texts, list(items))

    async def aingest_path(self, path: Path | str, **options: Any) -> IngestReport:
        return await asyncio.to_thread(self.ingest_path, path, **options)

    async def aingest_builtin_docs(self) -> IngestReport:
        return await asyncio.to_thread(self.ingest_builtin_docs)

    async def aremove_sources(
        self, sources: Iterable[str], *, org_id: str = GLOBAL
    ) -> IngestReport:
        return await asyncio.to_thread(self.remove_sources, list(sources), org_id=org_id)

    async def retrieve(self, org_id: str, query: str, limit: int) -> list[dict[str, Any]]:
        """The assistant's ``Retriever`` protocol: ranked snippets for a request."""
        hits = await self.asearch(query, max(1, min(limit, MAX_K)), org_id=org_id, max_per_source=2)
        return [hit.snippet() for hit in hits]


def _text_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        relative = path.relative_to(root).parts
        if any(part.startswith(".") for part in relative):
            continue
        if path.suffix.lower() in TEXT_SUFFIXES and (path.is_file() or path.is_symlink()):
            yield path


def _source(path: Path, base: Path | None) -> str:
    absolute = path.absolute()
    if base is None:
        return absolute.as_posix()
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        resolved = path.resolve()
        try:
            return resolved.relative_to(base).as_posix()
        except ValueError as exc:
            raise InvalidInput(
                f"{path} is not inside the source root {base}",
                hint="pass a source_root that contains the files",
            ) from exc
