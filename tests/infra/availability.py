"""Skip locally, fail in CI: a service a test needs but cannot have.

A developer machine without root, Docker or the Kubernetes binaries skips the tests that need
them; CI (``CI=true``) must have every engine, so there a missing engine is a failure, never
a silent skip.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci(environ: dict[str, str] | None = None) -> bool:
    """Whether the run is CI: ``CI`` set to a true value (GitHub, GitLab and most set it)."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() in {"1", "true", "yes"}


def require(service: str, reason: str, *, ci: bool | None = None) -> NoReturn:
    """Give up on ``service``: ``pytest.skip`` normally, ``pytest.fail`` in CI.

    ``ci`` overrides the ``CI`` environment variable (for tests of this function).
    """
    if in_ci() if ci is None else ci:
        pytest.fail(f"CI=true and {service} is unavailable: {reason}", pytrace=False)
    pytest.skip(f"{service} unavailable: {reason}")


def unavailable(service: str, reason: str) -> NoReturn:
    """The former name of :func:`require`, kept for existing callers."""
    require(service, reason)
