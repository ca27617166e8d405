"""Compose durations ("1m30s") and byte sizes ("512M")."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(value: str | int | float) -> float:
    """Seconds from a compose duration; raises ValueError with the offending text."""
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match[1]) * _UNITS[match[2]]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 1m30s, 500ms)")
    return total


def parse_bytes(value: str | int | float) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a size (use e.g. 512m, 1g, 100k)")
    return int(float(match[1]) * _SIZE_UNITS[match[2].lower()])
