"""A small in-process BM25 index, so exact identifiers are found even when vectors blur them.

Terms keep identifiers whole *and* in parts: ``postgres:16`` gives ``postgres:16``,
``postgres`` and ``16``; ``ECONNREFUSED`` gives ``econnrefused``; ``exit code 137`` gives
``exit``, ``code``, ``137``. Plain words lose a plural or ``-ing``/``-ed`` ending so that
"restarting" meets "restarts". English stop words are dropped. Scores are Okapi BM25
(k1 1.2, b 0.75) with the always-positive idf of Lucene.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

K1 = 1.2
B = 0.75
_TOKEN = re.compile(r"[a-z0-9]+(?:[._:/@+-][a-z0-9]+)*")
_PART = re.compile(r"[a-z0-9]+")
_STOP_TEXT = """a an and are as at be been but by can could did do does doing for from had has
have how i if in into is it its me my no not of on or our so than that the their them then
there these they this to was we were what when where which while who why will with would
you your yours after before about also just should"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def _stem(word: str) -> str:
    if not word.isalpha() or len(word) <= 4:
        return word
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Index terms of a text, in order (compound identifiers followed by their parts)."""
    found: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        parts = _PART.findall(token)
        if len(parts) > 1:
            found.append(token)
        found.extend(_stem(p) for p in parts if p not in STOP_WORDS)
    return found


class BM25Index:
    """Term postings of chunk ids; thread-safety is the owner's job."""

    def __init__(self) -> None:
        self._postings: dict[str, dict[str, int]] = {}
        self._lengths: dict[str, int] = {}
        self._terms: dict[str, tuple[str, ...]] = {}
        self._total = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._lengths

    def add(self, chunk_id: str, text: str) -> None:
        if chunk_id in self._lengths:
            self.remove(chunk_id)
        counts = Counter(terms(text))
        for term, count in counts.items():
            self._postings.setdefault(term, {})[chunk_id] = count
        length = sum(counts.values())
        self._lengths[chunk_id] = length
        self._terms[chunk_id] = tuple(counts)
        self._total += length

    def remove(self, chunk_id: str) -> None:
        length = self._lengths.pop(chunk_id, None)
        if length is None:
            return
        self._total -= length
        for term in self._terms.pop(chunk_id, ()):
            postings = self._postings.get(term)
            if postings is not None:
                postings.pop(chunk_id, None)
                if not postings:
                    del self._postings[term]

    def search(
        self,
        query: str,
        limit: int,
        allowed: Callable[[str], bool] | None = None,
    ) -> list[tuple[str, float]]:
        """The best ``limit`` chunk ids for ``query`` with their BM25 scores."""
        count = len(self._lengths)
        if count == 0:
            return []
        average = self._total / count or 1.0
        scores: dict[str, float] = {}
        verdicts: dict[str, bool] = {}
        for term, weight in Counter(terms(query)).items():
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (count - len(postings) + 0.5) / (len(postings) + 0.5))
            for chunk_id, frequency in postings.items():
                if allowed is not None:
                    ok = verdicts.get(chunk_id)
                    if ok is None:
                        ok = verdicts[chunk_id] = allowed(chunk_id)
                    if not ok:
                        continue
                norm = K1 * (1 - B + B * self._lengths[chunk_id] / average)
                gain = idf * frequency * (K1 + 1) / (frequency + norm)
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * gain
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]

    def ids(self) -> Iterable[str]:
        return self._lengths.keys()
