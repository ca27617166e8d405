"""Compose value notations: durations ("1m30s"), sizes ("512M"), booleans, modes, and
the two spellings of mappings (``[A=1]`` or ``{A: 1}``).

Interpolation turns every templated value into a string (``replicas: ${N}``), which the
Compose schema allows; these parsers accept both the typed and the string spelling and
raise ValueError with a message that names the value and the expected form.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_MICROS = {
    unit: Decimal(micros)
    for unit, micros in (("ns", "0.001"), ("us", 1), ("µs", 1), ("ms", 1000), ("s", 10**6))
}
_MICROS |= {"m": Decimal(60 * 10**6), "h": Decimal(3600 * 10**6)}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def parse_duration(value: str | int | float) -> float:
    """Seconds from a Go-style duration ("1m30s", "500ms"); bare "0" is allowed."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration (write it as a string, e.g. '30s')")
    text = value.strip()
    if text in ("0", "+0", "-0"):
        return 0.0
    body = text.lstrip("+")
    if body.startswith("-"):
        raise ValueError(f"{value!r} is negative; durations must be positive")
    position, micros = 0, Decimal(0)
    for match in _DURATION_PART.finditer(body):
        if match.start() != position:
            break
        micros += Decimal(match[1]) * _MICROS[match[2]]
        position = match.end()
    if not body or position != len(body):
        raise ValueError(f"{value!r} is not a duration (use a unit, e.g. 30s, 1m30s, 500ms)")
    # Whole microseconds keep parse(format(x)) == x exact for every value parse can return.
    return int(micros.to_integral_value()) / 1_000_000


def format_duration(seconds: float) -> str:
    """The shortest compose duration for ``seconds`` ("1m30s"), exact to the microsecond."""
    micros = round(seconds * 1_000_000)
    if micros == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("h", 3600 * 10**6), ("m", 60 * 10**6), ("s", 10**6), ("ms", 1000)):
        count, micros = divmod(micros, size)
        if count:
            parts.append(f"{count}{unit}")
    if micros:
        parts.append(f"{micros}us")
    return "".join(parts)


def parse_bytes(value: str | int | float) -> int:
    """Bytes from a size with binary units, as docker reads them ("512M", "1g", "100k")."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size (use e.g. 512m, 1g, 100k)")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{value!r} is negative; sizes must be positive")
        return int(value)
    match = _SIZE.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a size (use e.g. 512m, 1g, 100k)")
    return int(Decimal(match[1]) * _SIZE_UNITS[match[2].lower()])


def parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def parse_int(value: str | int | float, *, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{number} is below the minimum of {minimum}")
    return number


def parse_float(value: str | int | float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(Decimal(value.strip()))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number (e.g. 0.5)") from None


def parse_mode(value: str | int) -> int:
    """File modes: YAML integers as read (0440 is octal there), strings always octal."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a file mode")
    if isinstance(value, int):
        return value
    try:
        return int(value.strip(), 8)
    except ValueError:
        raise ValueError(f"{value!r} is not an octal file mode (e.g. 0440)") from None


def format_mode(mode: int) -> str:
    return f"0{mode:o}"


def as_mapping(value: Any) -> dict[str, str | None]:
    """The list (``KEY=VALUE``) and mapping spellings of environment-like keys."""
    if isinstance(value, dict):
        return {str(k): None if v is None else scalar(v) for k, v in value.items()}
    result: dict[str, str | None] = {}
    for item in value or []:
        key, separator, rest = str(item).partition("=")
        result[key] = rest if separator else None
    return result


def labels(value: Any) -> dict[str, str]:
    return {key: text or "" for key, text in as_mapping(value).items()}


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
