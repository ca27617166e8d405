"""Opening Chroma: a folder (``PersistentClient``; WindFlow's default is
``<data_dir>/knowledge``) or a server (``HttpClient``), with telemetry off (WindFlow
makes no calls home)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError

from knowledge.retrieval.errors import KnowledgeUnavailable
from windflow.errors import InvalidInput


def _chroma_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False)


def open_client(
    folder: Path | str | None,
    server_url: str | None,
    headers: Mapping[str, str] | None = None,
) -> tuple[ClientAPI, str]:
    """A Chroma client for a store folder (created if missing) or a server URL."""
    if (folder is None) == (server_url is None):
        raise InvalidInput(
            "give the knowledge base either a folder or a server URL",
            hint="KnowledgeBase(settings.data_dir / 'knowledge') or KnowledgeBase(server_url=...)",
        )
    if folder is not None:
        path = Path(folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KnowledgeUnavailable(
                f"cannot create the knowledge folder {path}: {exc.strerror or exc}",
                hint="set WINDFLOW_DATA_DIR to a writable folder",
            ) from exc
        try:
            client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
        except (ValueError, ChromaError, OSError) as exc:
            raise KnowledgeUnavailable(
                f"cannot open the knowledge store {path}: {exc}",
                hint="open it only through KnowledgeBase in this process, and check that the "
                "folder is writable and not a different Chroma version's",
            ) from exc
        return client, str(path)
    assert server_url is not None
    parts = urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"{server_url!r} is not a Chroma server URL", hint="use http://HOST:PORT"
        )
    ssl = parts.scheme == "https"
    try:
        client = chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if ssl else 8000),
            ssl=ssl,
            headers=dict(headers or {}),
            settings=_chroma_settings(),
        )
    except (ValueError, ChromaError, httpx.HTTPError) as exc:
        raise KnowledgeUnavailable(
            f"cannot reach the Chroma server at {server_url}: {exc}",
            hint="start it (`chroma run --path DIR --port PORT`) or fix the knowledge server URL",
        ) from exc
    return client, server_url
