"""The evaluation set over WindFlow's own docs: the offline default reaches recall@5 >= 0.9,
and fusing both rankings does better than either alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.retrieval import KnowledgeBase
from knowledge.retrieval.evaluate import DOCS, REPO, evaluate, ingest_docs, load_questions


@pytest.fixture(scope="module")
def docs_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    kb = KnowledgeBase(tmp_path_factory.mktemp("eval"))
    ingest_docs(kb)
    return kb


def test_the_eval_set_is_well_formed() -> None:
    questions = load_questions()
    assert len(questions) >= 40
    styles = {q.style for q in questions}
    assert {"paraphrase", "error", "identifier", "howto"} <= styles
    for question in questions:
        for source in question.expected:
            assert (REPO / source).is_file(), f"{question.q!r} expects missing {source}"
            assert Path(REPO / source).is_relative_to(DOCS)
    assert len(list(DOCS.rglob("*.md"))) >= 15


def test_hybrid_recall_at_5_reaches_0_9_and_beats_each_half(docs_kb: KnowledgeBase) -> None:
    questions = load_questions()
    hybrid = evaluate(docs_kb, questions, k=5, mode="hybrid")
    vector = evaluate(docs_kb, questions, k=5, mode="vector")
    lexical = evaluate(docs_kb, questions, k=5, mode="lexical")
    assert hybrid.recall >= 0.9, [m.question.q for m in hybrid.misses()]
    assert hybrid.recall >= max(vector.recall, lexical.recall)
    assert hybrid.mrr > max(vector.mrr, lexical.mrr)
    errors = [o for o in hybrid.outcomes if o.question.style in ("error", "identifier")]
    assert all(o.rank is not None and o.rank <= 5 for o in errors)


def test_docs_are_global_and_every_runbook_is_a_runbook(docs_kb: KnowledgeBase) -> None:
    hits = docs_kb.search("Runbook", k=50, kinds=["runbook"], org_id="org-x")
    assert len({h.source for h in hits}) >= 10
    assert all(h.source.startswith("knowledge/docs/runbooks/") for h in hits)
