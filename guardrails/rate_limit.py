"""Rate limits: a sliding window per key, in process memory or shared through Redis.

A limit is (how many, per how many seconds). ``hit`` counts one event for a key and
raises :class:`RateLimited` with the seconds until the oldest event of the window
leaves it. Refused events are not counted, so a client that waits as told gets through.
Embedded mode uses :class:`MemoryRateLimiter`; several replicas share
:class:`RedisRateLimiter` (``WINDFLOW_REDIS_URL``), whose window lives in one sorted set
per key and is checked and updated by one Lua script, atomically, on Redis' own clock.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from windflow.errors import RateLimited, TargetUnreachable


@dataclass(frozen=True)
class Limit:
    count: int
    per_seconds: float
    what: str = "requests"

    def refuse(self, retry_after: float) -> RateLimited:
        wait = max(1, math.ceil(retry_after))
        return RateLimited(
            f"too many {self.what}: the limit is {self.count} per {self.per_seconds:g} s",
            retry_after=wait,
            hint=f"wait {wait} s before trying again",
        )


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: Limit) -> None:
        """Count one event for ``key``; raise RateLimited when the window is full."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """One process's sliding windows; old keys are evicted when there are too many."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._longest_window = 0.0

    async def hit(self, key: str, limit: Limit) -> None:
        now = self._clock()
        self._longest_window = max(self._longest_window, limit.per_seconds)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - limit.per_seconds:
            hits.popleft()
        if len(hits) >= limit.count:
            raise limit.refuse(hits[0] + limit.per_seconds - now)
        hits.append(now)
        if len(self._hits) > self._max_keys:
            self._evict(now)

    def _evict(self, now: float) -> None:
        horizon = now - self._longest_window
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= horizon]:
            del self._hits[key]

    async def close(self) -> None:
        self._hits.clear()


# KEYS[1] the window; ARGV: limit, window in ms, a unique member.
# Returns 0 when counted, else the ms until the oldest event leaves the window.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RedisRateLimiter:
    """Sliding windows shared by every replica through one Redis server."""

    def __init__(self, url: str, prefix: str = "windflow:rate:") -> None:
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(url)
        self._prefix = prefix
        self._script = self._redis.register_script(_SLIDING_WINDOW)

    async def hit(self, key: str, limit: Limit) -> None:
        from redis.exceptions import RedisError

        window_ms = max(1, int(limit.per_seconds * 1000))
        try:
            waited = await self._script(
                keys=[self._prefix + key], args=[limit.count, window_ms, uuid.uuid4().hex]
            )
        except RedisError as exc:
            # Fail closed: without the shared counters no replica can tell what is allowed.
            raise TargetUnreachable(
                f"the rate limit store (Redis) did not answer: {exc}",
                hint="check WINDFLOW_REDIS_URL and that Redis is running",
            ) from exc
        if int(waited) > 0:
            raise limit.refuse(int(waited) / 1000)

    async def close(self) -> None:
        await self._redis.aclose()


def rate_limiter_for(redis_url: str | None, prefix: str = "windflow:") -> RateLimiter:
    """Redis when a URL is configured (several replicas), process memory otherwise."""
    if redis_url:
        return RedisRateLimiter(redis_url, prefix=f"{prefix}rate:")
    return MemoryRateLimiter()
