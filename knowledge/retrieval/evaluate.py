"""Retrieval quality over WindFlow's own docs: recall@k and MRR, hybrid vs. each half.

``python -m knowledge.retrieval.evaluate`` ingests ``knowledge/docs`` into a throw-away
knowledge base (the offline default configuration) and runs ``knowledge/eval/questions.yaml``.
A question is answered at rank r when the r-th hit comes from one of its expected
sources. recall@k is the share of questions answered within the first k hits; MRR is the
mean of 1/r over the first 10 hits (0 when not answered).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import yaml

from knowledge.retrieval.knowledge_base import BUILTIN_DOCS, PACKAGE_ROOT, KnowledgeBase, Mode
from windflow.errors import InvalidInput

REPO = PACKAGE_ROOT
DOCS = BUILTIN_DOCS
QUESTIONS = REPO / "knowledge" / "eval" / "questions.yaml"
MRR_DEPTH = 10


@dataclass(frozen=True)
class Question:
    q: str
    expected: tuple[str, ...]
    style: str = "other"


@dataclass
class Outcome:
    question: Question
    rank: int | None  # 1-based rank of the first relevant hit within MRR_DEPTH
    sources: list[str]


@dataclass
class Result:
    mode: str
    k: int
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def recall(self) -> float:
        answered = sum(1 for o in self.outcomes if o.rank is not None and o.rank <= self.k)
        return answered / len(self.outcomes) if self.outcomes else 0.0

    @property
    def mrr(self) -> float:
        total = sum(1 / o.rank for o in self.outcomes if o.rank is not None)
        return total / len(self.outcomes) if self.outcomes else 0.0

    def recall_by_style(self) -> dict[str, float]:
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.outcomes:
            groups[outcome.question.style].append(outcome)
        return {
            style: sum(1 for o in found if o.rank is not None and o.rank <= self.k) / len(found)
            for style, found in sorted(groups.items())
        }

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.rank is None or o.rank > self.k]


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{path} has no questions", hint="a top-level `questions:` list")
    questions: list[Question] = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("q") or not entry.get("expected"):
            raise InvalidInput(
                f"{path}: question {number} lacks q or expected", hint="q: ..., expected: [...]"
            )
        expected = entry["expected"]
        expected = [expected] if isinstance(expected, str) else list(expected)
        questions.append(
            Question(str(entry["q"]), tuple(expected), str(entry.get("style", "other")))
        )
    return questions


def ingest_docs(kb: KnowledgeBase) -> None:
    report = kb.ingest_builtin_docs()
    if report.skipped:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in report.skipped)
        raise InvalidInput(f"some docs could not be ingested: {reasons}", hint="fix those files")


def evaluate(
    kb: KnowledgeBase, questions: list[Question], *, k: int = 5, mode: Mode = "hybrid"
) -> Result:
    result = Result(mode=mode, k=k)
    started = time.perf_counter()
    for question in questions:
        hits = kb.search(question.q, k=max(k, MRR_DEPTH), mode=mode)
        sources = [hit.source for hit in hits]
        rank = next((i for i, s in enumerate(sources, 1) if s in question.expected), None)
        result.outcomes.append(Outcome(question, rank, sources[:k]))
    result.seconds = time.perf_counter() - started
    return result


def _print(result: Result, show_misses: bool) -> None:
    per_query = result.seconds / max(1, len(result.outcomes)) * 1000
    print(
        f"{result.mode:8s} recall@{result.k} {result.recall:.3f}   MRR {result.mrr:.3f}   "
        f"({per_query:.1f} ms/query)"
    )
    styles = "  ".join(f"{s} {v:.2f}" for s, v in result.recall_by_style().items())
    print(f"         by style: {styles}")
    if show_misses:
        for miss in result.misses():
            print(f"         miss: {miss.question.q!r} -> {miss.sources[:3]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--misses", action="store_true", help="list unanswered questions")
    args = parser.parse_args(argv)
    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory(prefix="windflow-eval-") as folder:
        started = time.perf_counter()
        kb = KnowledgeBase(folder)
        ingest_docs(kb)
        print(
            f"{kb.document_count} documents, {len(kb)} chunks ingested in "
            f"{time.perf_counter() - started:.1f} s; {len(questions)} questions"
        )
        for mode in get_args(Mode):
            _print(evaluate(kb, questions, k=args.k, mode=mode), args.misses)


if __name__ == "__main__":
    main()
