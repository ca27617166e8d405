"""Skip locally, fail in CI: a service a test needs but cannot have."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(service: str, reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {service} is unavailable: {reason}", pytrace=False)
    pytest.skip(f"{service} unavailable: {reason}")
