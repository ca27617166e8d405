"""Writing documents into Chroma and the local index: only what changed, whole or not at all.

A document whose content hash (text, title, kind, tags, target kinds, chunker version)
matches what is stored is left alone. Otherwise its new chunks are embedded and upserted
under their stable ids, then the chunks it no longer has are deleted, and only then does
the local index switch to the new version. Work is flushed in groups of a few hundred
chunks so small documents share embedding batches. Writers are serialized by a lock;
readers only wait for the short index update.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from chromadb.api.models.Collection import Collection

from knowledge.retrieval.chunking import Chunk, chunk_text
from knowledge.retrieval.documents import KnowledgeItem, Skipped
from knowledge.retrieval.embedding import MiniLMEmbedding
from knowledge.retrieval.errors import store_errors
from knowledge.retrieval.filters import Metadata, chunk_metadata, embedding_text
from knowledge.retrieval.index import DocEntry, DocKey, LocalIndex, chunk_id
from knowledge.retrieval.results import IngestReport

FLUSH_CHUNKS = 256


@dataclass(frozen=True)
class _Pending:
    key: DocKey
    item: KnowledgeItem
    doc_hash: str
    chunks: list[Chunk]
    existing: DocEntry | None


class Writer:
    def __init__(
        self,
        collection: Collection,
        embedding: MiniLMEmbedding,
        index: LocalIndex,
        index_lock: threading.RLock,
        location: str,
        max_batch: int,
        write_lock: threading.Lock,
    ) -> None:
        self._collection = collection
        self._embedding = embedding
        self._index = index
        self._index_lock = index_lock
        self._location = location
        self._max_batch = max(1, max_batch)
        self._write_lock = write_lock  # also held by KnowledgeBase.refresh

    def write(self, items: list[KnowledgeItem], *, origin: str) -> IngestReport:
        latest = {(item.org_id, item.source): item for item in items}  # the last one wins
        report = IngestReport()
        with self._write_lock:
            pending: list[_Pending] = []
            size = 0
            for key, item in latest.items():
                doc_hash = item.content_hash()
                with self._index_lock:
                    existing = self._index.doc(key)
                if existing and existing.doc_hash == doc_hash and existing.origin == origin:
                    report.unchanged.append(item.source)
                    continue
                chunks = chunk_text(item.text, item.display_title)
                if not chunks:
                    report.skipped.append(Skipped(item.source, "no text besides its headings"))
                    continue
                pending.append(_Pending(key, item, doc_hash, chunks, existing))
                size += len(chunks)
                if size >= FLUSH_CHUNKS:
                    self._flush(pending, origin, report)
                    pending, size = [], 0
            if pending:
                self._flush(pending, origin, report)
        return report

    def _flush(self, pending: list[_Pending], origin: str, report: IngestReport) -> None:
        ids: list[str] = []
        texts: list[str] = []
        metas: list[Metadata] = []
        stale: list[str] = []
        entries: list[tuple[_Pending, DocEntry, int]] = []
        for doc in pending:
            org_id, source = doc.key
            start = len(ids)
            for chunk in doc.chunks:
                ids.append(chunk_id(org_id, source, chunk.index))
                texts.append(chunk.text)
                metas.append(
                    chunk_metadata(
                        doc.item, chunk, doc_hash=doc.doc_hash, origin=origin, count=len(doc.chunks)
                    )
                )
            mine = tuple(ids[start:])
            if doc.existing:
                keep = set(mine)
                stale.extend(cid for cid in doc.existing.chunk_ids if cid not in keep)
            entries.append((doc, DocEntry(doc.doc_hash, mine, origin), start))
        vectors = self._embedding.embed(
            [embedding_text(m, t) for m, t in zip(metas, texts, strict=True)]
        )
        with store_errors("store chunks", self._location):
            for first in range(0, len(ids), self._max_batch):
                last = first + self._max_batch
                self._collection.upsert(
                    ids=ids[first:last],
                    embeddings=vectors[first:last],
                    documents=texts[first:last],
                    metadatas=metas[first:last],
                )
            for first in range(0, len(stale), self._max_batch):
                self._collection.delete(ids=stale[first : first + self._max_batch])
        with self._index_lock:
            for doc, entry, start in entries:
                end = start + len(entry.chunk_ids)
                records = zip(ids[start:end], texts[start:end], metas[start:end], strict=True)
                self._index.replace(doc.key, entry, records)
        for doc, _entry, _start in entries:
            (report.updated if doc.existing else report.added).append(doc.item.source)
        report.chunks_written += len(ids)
        report.chunks_deleted += len(stale)

    def remove(self, sources: list[str], org_id: str) -> IngestReport:
        report = IngestReport()
        with self._write_lock:
            with self._index_lock:
                found = {s: e for s in sources if (e := self._index.doc((org_id, s))) is not None}
            ids = [cid for entry in found.values() for cid in entry.chunk_ids]
            with store_errors("delete chunks", self._location):
                for first in range(0, len(ids), self._max_batch):
                    self._collection.delete(ids=ids[first : first + self._max_batch])
            with self._index_lock:
                for source in found:
                    self._index.forget((org_id, source))
        report.removed = sorted(found)
        report.chunks_deleted = len(ids)
        return report
