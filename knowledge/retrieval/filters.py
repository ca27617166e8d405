"""Chunk metadata as stored in Chroma, and search filters over it.

Chroma metadata values are scalars, so list-valued fields are stored twice: as a comma
string for people (``tags="backup,postgres"``, ``target_kind="docker,swarm"`` or ``"any"``)
and as one boolean flag per value (``"tag:postgres": True``, ``"target:docker": True``) for
filters. A filter selects chunk ids from in-process id sets per value (both rankings use
them), and also exists as a Chroma ``where`` clause for very large selections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from knowledge.retrieval.chunking import Chunk
from knowledge.retrieval.documents import (
    ANY_TARGET,
    GLOBAL,
    KINDS,
    KnowledgeItem,
    normalize_tags,
    normalize_target_kinds,
)
from windflow.errors import InvalidInput

TAG_FLAG = "tag:"
TARGET_FLAG = "target:"
Metadata = Mapping[str, Any]
Facet = tuple[str, str]  # ("org_id" | "kind" | "tag" | "target", value)


def chunk_metadata(
    item: KnowledgeItem, chunk: Chunk, *, doc_hash: str, origin: str, count: int
) -> dict[str, str | int | float | bool]:
    meta: dict[str, str | int | float | bool] = {
        "kind": item.kind,
        "source": item.source,
        "title": chunk.title,
        "heading_path": " > ".join(chunk.path),
        "doc_title": item.display_title,
        "org_id": item.org_id,
        "target_kind": ",".join(item.target_kind) or ANY_TARGET,
        "tags": ",".join(item.tags),
        "doc_hash": doc_hash,
        "origin": origin,
        "chunk_index": chunk.index,
        "chunk_count": count,
    }
    meta.update({f"{TAG_FLAG}{tag}": True for tag in item.tags})
    meta.update({f"{TARGET_FLAG}{kind}": True for kind in item.target_kind})
    return meta


def facets(meta: Metadata) -> list[Facet]:
    """The filterable values of a chunk, for the in-process id sets of each value."""
    found: list[Facet] = [("org_id", str(meta.get("org_id", ""))), ("kind", str(meta.get("kind")))]
    for key, value in meta.items():
        if value is True and key.startswith(TAG_FLAG):
            found.append(("tag", key[len(TAG_FLAG) :]))
        elif value is True and key.startswith(TARGET_FLAG):
            found.append(("target", key[len(TARGET_FLAG) :]))
    if meta.get("target_kind") == ANY_TARGET:
        found.append(("target", ANY_TARGET))
    return found


def lexical_text(meta: Metadata, text: str) -> str:
    """What the lexical index sees of a chunk: its headings, tags and text."""
    fields = (meta.get("heading_path", ""), meta.get("doc_title", ""), meta.get("tags", ""))
    return "\n".join((*(str(f) for f in fields), text))


def embedding_text(meta: Metadata, text: str) -> str:
    """What the embedding sees of a chunk: where it sits, then what it says."""
    return f"{meta.get('heading_path', '')}\n{text}"


def _one_of(key: str, values: tuple[str, ...]) -> dict[str, Any]:
    return {key: values[0]} if len(values) == 1 else {key: {"$in": list(values)}}


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class SearchFilter:
    """Who may see what (organization) and what the caller asked for."""

    org_ids: tuple[str, ...]
    kinds: tuple[str, ...] | None = None
    target_kind: str | None = None
    tags: tuple[str, ...] | None = None

    @classmethod
    def build(
        cls,
        *,
        org_id: str | None,
        kinds: str | Iterable[str] | None = None,
        target_kind: str | None = None,
        tags: str | Iterable[str] | None = None,
    ) -> SearchFilter:
        wanted = _as_tuple(kinds)
        if wanted is not None:
            unknown = sorted(set(wanted) - set(KINDS))
            if unknown or not wanted:
                raise InvalidInput(
                    f"unknown document kind {', '.join(unknown)}" if unknown else "kinds is empty",
                    hint=f"kinds are {', '.join(KINDS)}; pass None for all",
                )
        targets = normalize_target_kinds(target_kind) if target_kind else ()
        if len(targets) > 1:
            raise InvalidInput("give one target kind", hint="e.g. target_kind='kubernetes'")
        orgs = (GLOBAL,) if org_id in (None, GLOBAL) else (GLOBAL, str(org_id))
        tag_list = normalize_tags(tags) if tags is not None else None
        return cls(
            org_ids=orgs,
            kinds=tuple(sorted(set(wanted))) if wanted else None,
            target_kind=targets[0] if targets else None,
            tags=tag_list or None,
        )

    def where(self) -> dict[str, Any]:
        clauses: list[dict[str, Any]] = [_one_of("org_id", self.org_ids)]
        if self.kinds:
            clauses.append(_one_of("kind", self.kinds))
        if self.target_kind:
            clauses.append(
                {"$or": [{f"{TARGET_FLAG}{self.target_kind}": True}, {"target_kind": ANY_TARGET}]}
            )
        if self.tags:
            flags = [{f"{TAG_FLAG}{tag}": True} for tag in self.tags]
            clauses.append(flags[0] if len(flags) == 1 else {"$or": flags})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def select(self, ids_of: Mapping[Facet, set[str]]) -> set[str]:
        """The chunk ids that pass, from the id sets of each facet value."""

        def union(field: str, values: Iterable[str]) -> set[str]:
            return set().union(*(ids_of.get((field, value), ()) for value in values))

        chosen = union("org_id", self.org_ids)
        if self.kinds:
            chosen &= union("kind", self.kinds)
        if self.target_kind:
            chosen &= union("target", (self.target_kind, ANY_TARGET))
        if self.tags:
            chosen &= union("tag", self.tags)
        return chosen
