"""Ingestion: idempotent by content hash, changes replace whole documents, deleted files
disappear, bad files are skipped with a reason; state survives reopening."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from knowledge.retrieval import KnowledgeBase
from windflow.errors import InvalidInput

RUNBOOK = """---
title: Disk full
kind: runbook
target_kind: docker
tags: [disk, cleanup]
---

# Disk full

## Symptoms

Writes fail with `no space left on device`.

## Fix

Prune unused images with `docker image prune -a`. Cap container logs with max-size.
"""


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "data")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _count_writes(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every upsert/delete the knowledge base sends to its real Chroma collection."""
    calls: list[str] = []
    collection = kb._collection
    for name in ("upsert", "delete", "add", "update"):
        original: Callable[..., Any] = getattr(collection, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(collection, name, spy)
    return calls


def test_reingesting_unchanged_files_writes_nothing(
    kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    _write(docs, "disk-full.md", RUNBOOK)
    _write(docs, "notes/ports.txt", "Port 8080 is taken by the old proxy container.\n")
    first = kb.ingest_path(docs, source_root=tmp_path)
    assert sorted(first.added) == ["docs/disk-full.md", "docs/notes/ports.txt"]
    assert first.chunks_written == len(kb) >= 3

    calls = _count_writes(kb, monkeypatch)
    again = kb.ingest_path(docs, source_root=tmp_path)
    assert sorted(again.unchanged) == ["docs/disk-full.md", "docs/notes/ports.txt"]
    assert again.writes == 0 and calls == []

    assert (tmp_path / "data" / "chroma.sqlite3").is_file()  # the store is the folder given
    reopened = KnowledgeBase(tmp_path / "data")  # the index is rebuilt from Chroma
    assert (len(reopened), reopened.document_count) == (len(kb), 2)
    assert reopened.ingest_path(docs, source_root=tmp_path).writes == 0


def test_a_changed_file_replaces_all_its_chunks(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = _write(
        tmp_path, "guide.md", "# Guide\n\n" + "\n\n".join(f"Part {n}. " * 40 for n in range(6))
    )
    kb.ingest_path(path, source_root=tmp_path)
    before = len(kb)
    assert before > 2
    _write(tmp_path, "guide.md", "# Guide\n\nUse the quarzite-lantern procedure for restores.\n")
    changed = kb.ingest_path(path, source_root=tmp_path)
    assert changed.updated == ["guide.md"] and changed.chunks_deleted == before - 1
    assert len(kb) == 1
    hits = kb.search("Part 3", k=5)
    assert [h.text for h in hits] == ["Use the quarzite-lantern procedure for restores."]
    assert len(KnowledgeBase(tmp_path / "data")) == 1  # Chroma agrees


def test_files_removed_from_a_folder_are_removed_from_the_index(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    _write(docs, "keep.md", "# Keep\n\nThe zebrafish runbook stays.\n")
    gone = _write(docs, "old/gone.md", "# Gone\n\nThe platypus runbook is obsolete.\n")
    kb.ingest_texts([{"source": "docs/memo", "text": "platypus memo from memory"}])
    kb.ingest_path(docs, source_root=tmp_path)
    found = {h.source for h in kb.search("platypus", k=5, mode="lexical")}
    assert found == {"docs/old/gone.md", "docs/memo"}
    gone.unlink()
    report = kb.ingest_path(docs, source_root=tmp_path)
    assert report.removed == ["docs/old/gone.md"] and report.unchanged == ["docs/keep.md"]
    # In-memory documents are not files: a folder re-ingest leaves them alone.
    assert {h.source for h in kb.search("platypus", k=5, mode="lexical")} == {"docs/memo"}
    assert kb.remove_sources(["docs/memo"]).removed == ["docs/memo"]
    assert kb.search("platypus", k=5, mode="lexical") == []


def test_front_matter_sets_metadata_and_texts_are_idempotent(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    kb.ingest_path(_write(tmp_path, "disk.md", RUNBOOK), source_root=tmp_path)
    hit = kb.search("no space left on device", k=1)[0]
    assert (hit.source, hit.kind, hit.title) == ("disk.md", "runbook", "Symptoms")
    stored = kb._index.chunk(hit.id)
    assert stored is not None
    assert stored.meta["tags"] == "cleanup,disk" and stored.meta["target_kind"] == "docker"
    assert stored.meta["doc_title"] == "Disk full" and stored.meta["org_id"] == "global"

    item = {
        "source": "incident/42",
        "title": "db OOM",
        "text": "db was OOMKilled",
        "kind": "incident",
    }
    assert kb.ingest_texts([item]).added == ["incident/42"]
    assert kb.ingest_texts([item]).unchanged == ["incident/42"]
    assert kb.ingest_texts([{**item, "tags": ["postgres"]}]).updated == ["incident/42"]


def test_bad_files_are_skipped_with_a_reason(kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs, "good.md", "# Good\n\nA readable runbook.\n")
    (docs / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (docs / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    (docs / "broken-link.md").symlink_to(docs / "missing.md")
    _write(docs, "bad-kind.md", "---\nkind: novel\n---\n# Story\n\nOnce upon a time.\n")
    _write(docs, "bad-yaml.md", "---\ntags: [unclosed\n---\n# T\n\nText.\n")
    _write(docs, "only-heading.md", "# Just a title\n")
    _write(docs, "empty.md", "   \n")
    _write(docs, "image.png", "not considered: not a text suffix")
    report = kb.ingest_path(docs, source_root=tmp_path)
    assert report.added == ["docs/good.md"]
    reasons = {s.source: s.reason for s in report.skipped}
    assert set(reasons) == {
        "docs/binary.md",
        "docs/latin1.txt",
        "docs/broken-link.md",
        "docs/bad-kind.md",
        "docs/bad-yaml.md",
        "docs/only-heading.md",
        "docs/empty.md",
    }
    assert "binary" in reasons["docs/binary.md"]
    assert "UTF-8" in reasons["docs/latin1.txt"]
    assert "broken link" in reasons["docs/broken-link.md"]
    assert "kind" in reasons["docs/bad-kind.md"]
    assert "front matter" in reasons["docs/bad-yaml.md"]
    assert "headings" in reasons["docs/only-heading.md"]


def test_invalid_arguments_raise_invalid_input_with_a_hint(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    cases: list[Callable[[], object]] = [
        lambda: kb.ingest_path(tmp_path / "nowhere"),
        lambda: kb.ingest_texts([{"source": "x", "text": ""}]),
        lambda: kb.ingest_texts([{"source": "x", "text": "t", "kind": "novel"}]),
        lambda: kb.ingest_texts([{"source": "x", "text": "t", "target_kind": "nomad"}]),
        lambda: kb.ingest_texts([{"source": "x", "text": "t", "colour": "red"}]),
        lambda: kb.ingest_path(_write(tmp_path, "a/b.md", "# B\n\nb"), source_root=tmp_path / "c"),
        lambda: KnowledgeBase(),
        lambda: KnowledgeBase(server_url="ftp://chroma"),
    ]
    for case in cases:
        with pytest.raises(InvalidInput) as caught:
            case()
        assert caught.value.message and caught.value.hint
