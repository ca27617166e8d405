"""Sliding-window rate limiting for login attempts, in process memory.

One process in embedded mode; the scale-out mode swaps in a shared implementation of
the same protocol.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from windflow.errors import RateLimited


class RateLimiter(Protocol):
    def hit(self, key: str) -> None:
        """Count one attempt for ``key``; raise RateLimited when over the limit."""


class SlidingWindowLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> None:
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            retry_after = max(1, math.ceil(hits[0] + self.window - now))
            raise RateLimited(
                "too many login attempts",
                retry_after=retry_after,
                hint=f"wait {retry_after} s before trying again",
            )
        hits.append(now)
        if len(self._hits) > self._max_keys:
            self._evict(now)

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
