"""What goes into the knowledge base: validated documents, read from memory or from files.

A document is identified by ``(org_id, source)``. Its metadata (kind, title, tags, target
kinds) comes from the caller, and for files also from an optional YAML front matter
block, which wins over the caller's defaults except for ``org_id``: a file never decides
which organization sees it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.retrieval.chunking import CHUNKER_VERSION, first_heading
from windflow.errors import InvalidInput

Kind = Literal["doc", "runbook", "template", "incident"]
KINDS: tuple[str, ...] = ("doc", "runbook", "template", "incident")
TARGET_KINDS: tuple[str, ...] = ("docker", "swarm", "kubernetes", "vagrant")
GLOBAL = "global"
ANY_TARGET = "any"
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
MAX_FILE_BYTES = 2_000_000
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_TAG = re.compile(r"[^a-z0-9_.+:-]+")


def normalize_tags(tags: object) -> tuple[str, ...]:
    """Lower-case, de-duplicated, sorted; commas separate tags given as one string."""
    if tags is None:
        return ()
    if isinstance(tags, str):
        raw = tags.split(",")
    elif isinstance(tags, Iterable):
        raw = [str(t) for t in tags]
    else:
        raw = [str(tags)]
    cleaned = (_TAG.sub("-", t.strip().lower()).strip("-") for t in raw)
    return tuple(sorted({t for t in cleaned if t}))


def normalize_target_kinds(value: object) -> tuple[str, ...]:
    """Target kinds a document is about; empty means it applies to any target."""
    names = normalize_tags(value)
    unknown = [n for n in names if n not in (*TARGET_KINDS, ANY_TARGET)]
    if unknown:
        raise InvalidInput(
            f"unknown target kind {', '.join(unknown)}",
            hint=f"use {', '.join(TARGET_KINDS)}, or leave it empty for any target",
        )
    return tuple(n for n in names if n != ANY_TARGET)


class KnowledgeItem(BaseModel):
    """One document to ingest: a file's content, a template, a past diagnosis..."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    source: str = Field(min_length=1, max_length=1000, description="Path or URL; its identity")
    title: str = Field(default="", max_length=300, description="The first # heading if empty")
    text: str = Field(min_length=1, max_length=MAX_FILE_BYTES)
    kind: Kind = "doc"
    org_id: str = Field(default=GLOBAL, min_length=1, max_length=100)
    tags: tuple[str, ...] = ()
    target_kind: tuple[str, ...] = Field(default=(), description="Empty: any target")

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> tuple[str, ...]:
        return normalize_tags(value)

    @field_validator("target_kind", mode="before")
    @classmethod
    def _target_kind(cls, value: Any) -> tuple[str, ...]:
        return normalize_target_kinds(value)

    @property
    def display_title(self) -> str:
        return self.title or first_heading(self.text) or self.source.rsplit("/", 1)[-1]

    def content_hash(self) -> str:
        """Changes when anything stored for the document would change."""
        digest = hashlib.sha256()
        fields = (
            CHUNKER_VERSION,
            self.display_title,
            self.kind,
            ",".join(self.tags),
            ",".join(self.target_kind),
            self.text,
        )
        for value in fields:
            digest.update(value.encode())
            digest.update(b"\x00")
        return digest.hexdigest()


def item_from(value: KnowledgeItem | Mapping[str, Any]) -> KnowledgeItem:
    if isinstance(value, KnowledgeItem):
        return value
    try:
        return KnowledgeItem.model_validate(dict(value))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in exc.errors()
        )
        source = value.get("source") if isinstance(value, Mapping) else None
        raise InvalidInput(
            f"invalid knowledge item {source or ''}: {problems}".replace("  ", " "),
            hint="an item needs source and text; kind is doc, runbook, template or incident",
        ) from exc


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body); a document without front matter has an empty one."""
    found = _FRONT_MATTER.match(text)
    if not found:
        return {}, text
    try:
        meta = yaml.safe_load(found.group(1))
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"the front matter is not valid YAML: {exc}".splitlines()[0],
            hint="fix the block between the --- lines at the top",
        ) from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise InvalidInput(
            "the front matter is not a mapping", hint="use key: value lines between the --- lines"
        )
    return meta, text[found.end() :]


def read_text(path: Path) -> str | Skipped:
    """The file's text, or why it cannot be ingested (never raises for a bad file)."""
    name = str(path)
    try:
        if not path.is_file():
            return Skipped(name, "not a regular file (or a broken link)")
        if path.stat().st_size > MAX_FILE_BYTES:
            return Skipped(name, f"larger than {MAX_FILE_BYTES // 1_000_000} MB")
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(name, f"cannot be read: {exc.strerror or exc}")
    if b"\x00" in data[:8192]:
        return Skipped(name, "binary content (NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skipped(name, f"not UTF-8 text (byte {exc.start})")
    if not text.strip():
        return Skipped(name, "empty")
    return text


def file_item(
    path: Path,
    source: str,
    *,
    kind: str,
    org_id: str,
    tags: tuple[str, ...],
    target_kind: tuple[str, ...],
) -> KnowledgeItem | Skipped:
    """A file as a knowledge item; front matter may set title, kind, tags and target_kind."""
    text = read_text(path)
    if isinstance(text, Skipped):
        return Skipped(source, text.reason)
    try:
        meta, body = split_front_matter(text)
        return item_from(
            {
                "source": source,
                "title": str(meta.get("title") or ""),
                "text": body,
                "kind": meta.get("kind") or kind,
                "org_id": org_id,
                "tags": (*tags, *normalize_tags(meta.get("tags"))),
                "target_kind": meta.get("target_kind") or target_kind,
            }
        )
    except InvalidInput as exc:
        return Skipped(source, f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
