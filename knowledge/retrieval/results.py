"""What the knowledge base answers: search hits, ingestion reports, and rank fusion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.retrieval.documents import Skipped
from knowledge.retrieval.filters import Metadata

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk. ``score``: fused RRF score (hybrid), cosine (vector) or BM25."""

    id: str
    source: str
    title: str
    kind: str
    text: str
    score: float

    @classmethod
    def of(cls, chunk_id: str, text: str, meta: Metadata, score: float) -> Hit:
        return cls(
            id=chunk_id,
            source=str(meta.get("source", "")),
            title=str(meta.get("title", "")),
            kind=str(meta.get("kind", "")),
            text=text,
            score=round(score, 6),
        )

    def snippet(self) -> dict[str, Any]:
        """The shape the assistant's retrieve step passes to the prompt."""
        return {
            "source": self.source,
            "title": self.title,
            "kind": self.kind,
            "text": self.text,
            "score": self.score,
        }


@dataclass
class IngestReport:
    """Documents by outcome (their sources), and how many chunks were written or deleted."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deleted: int = 0

    @property
    def writes(self) -> int:
        return self.chunks_written + self.chunks_deleted

    def merge(self, other: IngestReport) -> IngestReport:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.skipped += other.skipped
        self.chunks_written += other.chunks_written
        self.chunks_deleted += other.chunks_deleted
        return self

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.removed)} removed",
            f"{len(self.skipped)} skipped",
        ]
        return ", ".join(parts) + f" ({self.chunks_written} chunks written)"


def fuse(rankings: list[list[tuple[str, float]]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings an id appears in."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (chunk_id, _score) in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
