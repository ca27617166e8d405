"""WindFlow's retrieval layer: hybrid (vector + BM25) search over docs, runbooks, templates
and past incidents, stored in Chroma and embedded offline with all-MiniLM-L6-v2."""

from knowledge.retrieval.documents import GLOBAL, KINDS, KnowledgeItem, Skipped
from knowledge.retrieval.embedding import MiniLMEmbedding
from knowledge.retrieval.errors import KnowledgeUnavailable
from knowledge.retrieval.knowledge_base import KnowledgeBase
from knowledge.retrieval.results import Hit, IngestReport

__all__ = [
    "GLOBAL",
    "KINDS",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeItem",
    "KnowledgeUnavailable",
    "MiniLMEmbedding",
    "Skipped",
]
