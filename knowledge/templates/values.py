"""Checking parameter values against their type, and generating secrets.

``problem(parameter, value)`` says in words what is wrong with a value (or None); the
model uses it for defaults and the renderer for values users give. ``generate`` makes a
fresh password or secret with the ``secrets`` module.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from knowledge.templates.model import Parameter

TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#%&'*+/=?^_`{|}~-]+@" + _DOMAIN.pattern[1:])
_URL_SCHEMES = ("http", "https", "ws", "wss", "ftp", "smtp", "smtps", "redis", "postgres", "amqp")
_ALNUM = string.ascii_letters + string.digits
_GENERATE_ATTEMPTS = 100


def _length_problem(parameter: Parameter, value: str) -> str | None:
    if parameter.min is not None and len(value) < parameter.min:
        return f"is {len(value)} characters long, shorter than the minimum of {parameter.min}"
    if parameter.max is not None and len(value) > parameter.max:
        return f"is {len(value)} characters long, longer than the maximum of {parameter.max}"
    return None


def _number_problem(parameter: Parameter, value: str) -> str | None:
    if not _INT.match(value.strip()):
        return f"{value!r} is not a whole number"
    number = int(value)
    port = parameter.type == "port"
    low = parameter.min if parameter.min is not None else (1 if port else None)
    high = parameter.max if parameter.max is not None else (65535 if port else None)
    if low is not None and high is not None and not low <= number <= high:
        return f"{number} is out of range: it must be between {low} and {high}"
    if low is not None and number < low:
        return f"{number} is too small: it must be at least {low}"
    if high is not None and number > high:
        return f"{number} is too large: it must be at most {high}"
    return None


def _type_problem(parameter: Parameter, value: str) -> str | None:
    kind = parameter.type
    if kind in ("int", "port"):
        return _number_problem(parameter, value)
    if kind == "bool":
        return None if value.lower() in TRUE + FALSE else f"{value!r} is not true or false"
    if kind == "enum":
        allowed = ", ".join(parameter.choices)
        return None if value in parameter.choices else f"{value!r} is not one of: {allowed}"
    if kind == "domain":
        return None if _DOMAIN.match(value.lower()) else f"{value!r} is not a domain name"
    if kind == "email":
        return None if _EMAIL.match(value) else f"{value!r} is not an email address"
    if kind == "url":
        parts = urlsplit(value)
        if parts.scheme.lower() not in _URL_SCHEMES or not parts.netloc:
            return f"{value!r} is not an absolute URL (scheme://host/...)"
        return None
    return _length_problem(parameter, value)


def problem(parameter: Parameter, value: str) -> str | None:
    """What is wrong with ``value`` for ``parameter``, or None when it is acceptable."""
    if "\x00" in value:
        return "contains a NUL character"
    if parameter.type not in ("string", "secret") and ("\n" in value or "\r" in value):
        return "contains a line break"
    found = _type_problem(parameter, value)
    if found is None and parameter.pattern and not re.fullmatch(parameter.pattern, value):
        found = f"does not match the pattern {parameter.pattern}"
    return found


def normalize(parameter: Parameter, value: str) -> str:
    """The canonical spelling of an accepted value (``yes`` -> ``true``, ``Example.COM``...)."""
    if parameter.type == "bool":
        return "true" if value.lower() in TRUE else "false"
    if parameter.type in ("int", "port"):
        return str(int(value))
    if parameter.type == "domain":
        return value.lower()
    return value


def _random(charset: str, length: int) -> str:
    if charset == "hex":
        return secrets.token_hex((length + 1) // 2)[:length]
    if charset == "base64":
        return base64.b64encode(secrets.token_bytes(length)).decode()
    if charset == "uuid":
        return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
    # A letter first: some tools choke on values that look like numbers or options.
    first = secrets.choice(string.ascii_letters)
    return first + "".join(secrets.choice(_ALNUM) for _ in range(length - 1))


def generate(parameter: Parameter) -> str | None:
    """A fresh random value that passes the parameter's checks, or None if none was found.

    ``charset`` picks the alphabet: ``alnum`` (letters and digits), ``hex``, ``base64``
    (of ``generate`` random bytes) or ``uuid`` (length ignored).
    """
    length = parameter.generate or 32
    for _ in range(_GENERATE_ATTEMPTS):
        value = _random(parameter.charset, length)
        if problem(parameter, value) is None:
            return value
    return None


_SAMPLES = (
    "example",
    "admin",
    "Y",
    "true",
    "1",
    "8080",
    "app.example.com",
    "https://app.example.com",
    "admin@example.com",
    "postgres://app:app@db:5432/app",
)


def sample(parameter: Parameter) -> str:
    """A plausible value of the parameter's type, to try a template without real input.

    Used to check that imported templates render; the value is not meant for real use.
    """
    if parameter.choices:
        return parameter.choices[0]
    low = parameter.min if parameter.min is not None else 1
    by_type = {
        "int": str(max(low, 1)),
        "port": str(max(low, 8080)),
        "bool": "false",
        "domain": "app.example.com",
        "email": "admin@example.com",
        "url": "https://app.example.com",
    }
    candidates = [by_type[parameter.type]] if parameter.type in by_type else []
    for length in (24, 48, 96):
        for charset in ("alnum", "hex"):
            trial = parameter.model_copy(update={"generate": length, "charset": charset})
            candidates += [generated] if (generated := generate(trial)) else []
    candidates += [*_SAMPLES, "Aa1@" + "x" * max(low, 8)]
    return next((c for c in candidates if problem(parameter, c) is None), candidates[0])
