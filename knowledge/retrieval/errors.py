"""The one error of the retrieval layer that windflow.errors has no class for, and the
translation of Chroma's failures into it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
from chromadb.errors import ChromaError

from windflow.errors import WindFlowError


class KnowledgeUnavailable(WindFlowError):
    """The vector store (a Chroma folder or server) could not be opened or answered badly."""

    status = 503
    code = "knowledge_unavailable"
    title = "Knowledge store unavailable"


@contextlib.contextmanager
def store_errors(what: str, where: str) -> Iterator[None]:
    """Chroma and transport failures as a WindFlow error that says where and what to do."""
    try:
        yield
    except (ChromaError, httpx.HTTPError, ConnectionError) as exc:
        raise KnowledgeUnavailable(
            f"the knowledge store at {where} failed to {what}: {exc}",
            hint="check that the Chroma folder is writable or the Chroma server is running",
        ) from exc
