"""The in-process side of the knowledge base: chunk texts, their metadata, the documents they
belong to and the BM25 index over them.

It mirrors what is in Chroma and is rebuilt from Chroma when a knowledge base is opened
(:meth:`LocalIndex.load`), so Chroma stays the one source of truth for every client, local
folder or server. Not thread-safe by itself: :class:`~knowledge.retrieval.KnowledgeBase`
holds a lock around every use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from knowledge.retrieval.filters import Facet, Metadata, SearchFilter, facets, lexical_text
from knowledge.retrieval.lexical import BM25Index

DocKey = tuple[str, str]  # (org_id, source)


def chunk_id(org_id: str, source: str, index: int) -> str:
    """Stable id of the ``index``-th chunk of a document."""
    return hashlib.sha256(f"{org_id}\x00{source}\x00{index}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoredChunk:
    text: str
    meta: Metadata


@dataclass(frozen=True)
class DocEntry:
    doc_hash: str  # "" when its chunks disagree (an interrupted write): re-ingest rewrites it
    chunk_ids: tuple[str, ...]
    origin: str  # "file" or "text"


class LocalIndex:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._chunks: dict[str, StoredChunk] = {}
        self._docs: dict[DocKey, DocEntry] = {}
        self._lexical = BM25Index()
        self._ids_of: dict[Facet, set[str]] = {}  # chunk ids per organization, kind, tag...

    def adopt(self, other: LocalIndex) -> None:
        """Take over ``other``'s content (built without holding the owner's lock)."""
        self._chunks, self._docs, self._lexical = other._chunks, other._docs, other._lexical
        self._ids_of = other._ids_of

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def document_count(self) -> int:
        return len(self._docs)

    def load(self, records: Iterable[tuple[str, str, Metadata]]) -> None:
        """Rebuild everything from (id, text, metadata) records read from Chroma."""
        self.clear()
        hashes: dict[DocKey, set[str]] = {}
        members: dict[DocKey, list[tuple[int, str]]] = {}
        origins: dict[DocKey, str] = {}
        for cid, text, meta in records:
            key = (str(meta.get("org_id", "")), str(meta.get("source", "")))
            self._put(cid, text, meta)
            hashes.setdefault(key, set()).add(str(meta.get("doc_hash", "")))
            members.setdefault(key, []).append((int(meta.get("chunk_index", 0)), cid))
            origins[key] = str(meta.get("origin", "text"))
        for key, found in members.items():
            whole = len(hashes[key]) == 1
            ids = tuple(cid for _, cid in sorted(found))
            self._docs[key] = DocEntry(next(iter(hashes[key])) if whole else "", ids, origins[key])

    def _put(self, cid: str, text: str, meta: Metadata) -> None:
        if cid in self._chunks:
            self._drop(cid)
        self._chunks[cid] = StoredChunk(text, meta)
        for facet in facets(meta):
            self._ids_of.setdefault(facet, set()).add(cid)
        self._lexical.add(cid, lexical_text(meta, text))

    def doc(self, key: DocKey) -> DocEntry | None:
        return self._docs.get(key)

    def replace(
        self, key: DocKey, entry: DocEntry, chunks: Iterable[tuple[str, str, Metadata]]
    ) -> None:
        """Make ``entry`` the document's current version, dropping chunks it no longer has."""
        old = self._docs.get(key)
        keep = set(entry.chunk_ids)
        for cid in old.chunk_ids if old else ():
            if cid not in keep:
                self._drop(cid)
        for cid, text, meta in chunks:
            self._put(cid, text, meta)
        self._docs[key] = entry

    def forget(self, key: DocKey) -> DocEntry | None:
        entry = self._docs.pop(key, None)
        for cid in entry.chunk_ids if entry else ():
            self._drop(cid)
        return entry

    def _drop(self, cid: str) -> None:
        old = self._chunks.pop(cid, None)
        for facet in facets(old.meta) if old else ():
            ids = self._ids_of.get(facet)
            if ids is not None:
                ids.discard(cid)
                if not ids:
                    del self._ids_of[facet]
        self._lexical.remove(cid)

    def sources_under(self, org_id: str, prefix: str, origin: str) -> Iterator[str]:
        for (org, source), entry in self._docs.items():
            if org == org_id and entry.origin == origin and source.startswith(prefix):
                yield source

    def chunk(self, cid: str) -> StoredChunk | None:
        return self._chunks.get(cid)

    def select(self, where: SearchFilter) -> set[str]:
        """Ids of the chunks that pass the filter (a new set, safe to use without the lock)."""
        return where.select(self._ids_of)

    def lexical(self, query: str, limit: int, allowed: set[str] | None) -> list[tuple[str, float]]:
        """BM25 ranking among ``allowed`` ids (all chunks when None)."""
        return self._lexical.search(query, limit, None if allowed is None else allowed.__contains__)
