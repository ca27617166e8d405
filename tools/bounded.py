"""Size bounds for what tools hand to the model: long output is cut with a visible marker."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

DEFAULT_MAX_CHARS = 12_000
DEFAULT_MAX_LINES = 400


def bound_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[str, bool]:
    """Keep the end of the text (the newest log lines matter most) within ``max_chars``."""
    if len(text) <= max_chars:
        return text, False
    dropped = len(text) - max_chars
    return f"[... {dropped} earlier characters truncated ...]\n" + text[-max_chars:], True


def bound_lines(lines: list[str], max_lines: int = DEFAULT_MAX_LINES) -> tuple[list[str], bool]:
    if len(lines) <= max_lines:
        return lines, False
    dropped = len(lines) - max_lines
    return [f"[... {dropped} earlier lines truncated ...]", *lines[-max_lines:]], True


def bound_items(items: list[T], max_items: int) -> tuple[list[T], bool]:
    return (items, False) if len(items) <= max_items else (items[:max_items], True)
