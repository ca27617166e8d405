"""Former home of the duration and size parsers, kept so existing imports keep working.

New code imports from :mod:`tools.stack.units`.
"""

from __future__ import annotations

from tools.stack.units import format_duration, parse_bytes, parse_duration

__all__ = ["format_duration", "parse_bytes", "parse_duration"]
