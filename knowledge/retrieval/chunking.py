"""Splitting Markdown and text into retrievable chunks: by headings first, then by size.

A section is the text under one heading (fenced code blocks never start sections). A
section longer than ``max_chars`` is cut at paragraph, then line, then word boundaries; a
fenced block stays whole when it fits. Each later piece of a section starts with the
last ``overlap`` characters of the piece before it, so a sentence cut in two is whole in
one of them. Every chunk knows its nearest heading and the path of headings above it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 800
OVERLAP = 120
CHUNKER_VERSION = "1"  # part of each document's content hash: a new chunker re-ingests

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    index: int
    title: str  # the nearest heading, or the document title
    path: tuple[str, ...]  # headings from the top down to ``title``
    text: str


@dataclass
class _Section:
    path: tuple[str, ...]
    lines: list[str]


def first_heading(text: str) -> str | None:
    """The first level-1 heading outside code blocks, if any."""
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        found = None if fenced else _HEADING.match(line)
        if found and len(found.group(1)) == 1:
            return found.group(2).strip()
    return None


def _sections(text: str, doc_title: str) -> list[_Section]:
    sections = [_Section((doc_title,), [])]
    stack: list[tuple[int, str]] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        found = None if fenced else _HEADING.match(line)
        if found is None:
            sections[-1].lines.append(line)
            continue
        level, heading = len(found.group(1)), found.group(2).strip()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
        sections.append(_Section(tuple(h for _, h in stack), []))
    return [s for s in sections if "\n".join(s.lines).strip()]


def _blocks(lines: list[str]) -> list[str]:
    """Paragraphs, with each fenced code block kept as one block."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in lines:
        if _FENCE.match(line):
            if not fenced and current:
                blocks.append("\n".join(current))
                current = []
            current.append(line)
            fenced = not fenced
            if not fenced:
                blocks.append("\n".join(current))
                current = []
            continue
        if not fenced and not line.strip():
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return [b.strip("\n") for b in blocks if b.strip()]


def _fit(block: str, max_chars: int) -> list[str]:
    """Cuts one block into pieces of at most ``max_chars``: lines first, then words."""
    if len(block) <= max_chars:
        return [block]
    pieces: list[str] = []
    current = ""
    for line in block.splitlines():
        units = [line] if len(line) <= max_chars else _words(line, max_chars)
        for unit in units:
            joined = f"{current}\n{unit}" if current else unit
            if len(joined) <= max_chars:
                current = joined
            else:
                pieces.append(current)
                current = unit
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def _words(line: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in line.split(" "):
        while len(word) > max_chars:  # a URL or a hash longer than a chunk
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:max_chars])
            word = word[max_chars:]
        joined = f"{current} {word}" if current else word
        if len(joined) <= max_chars:
            current = joined
        else:
            pieces.append(current)
            current = word
    if current:
        pieces.append(current)
    return pieces


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters of ``text``, starting at a word boundary."""
    if overlap <= 0 or len(text) <= overlap:
        return text if overlap > 0 else ""
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def _pack(blocks: list[str], max_chars: int, overlap: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for block in blocks:
        for part in _fit(block, max_chars):
            joined = f"{current}\n\n{part}" if current else part
            if len(joined) <= max_chars:
                current = joined
                continue
            if current:
                pieces.append(current)
            lead = _tail(pieces[-1], overlap) if pieces else ""
            fits = lead and len(lead) + len(part) + 2 <= max_chars
            current = f"{lead}\n\n{part}" if fits else part
    if current:
        pieces.append(current)
    return pieces


def chunk_text(
    text: str, doc_title: str, *, max_chars: int = MAX_CHARS, overlap: int = OVERLAP
) -> list[Chunk]:
    """Chunks of a Markdown (or plain text) document, in reading order."""
    chunks: list[Chunk] = []
    for section in _sections(text, doc_title):
        for piece in _pack(_blocks(section.lines), max_chars, overlap):
            chunks.append(Chunk(len(chunks), section.path[-1], section.path, piece))
    return chunks
