"""Request-rate limits (the ``limits`` library): shared through Redis when CIELO_REDIS_URL is
set, in-process otherwise. API traffic uses sliding-window counters (O(1) memory per key,
smooth at window edges, but approximate across an edge); sign-in throttles use exact moving
windows (a handful of attempts per key: a guess must never slip through at a minute's edge)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond, storage, strategies
from limits.aio import strategies as aio_strategies

log = logging.getLogger("cielo.ratelimit")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window frees a request

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after))
        return headers


class InProcessWindows:
    """limits' sliding-window counter, kept in this process: the arithmetic of its memory store
    (windows aligned on multiples of the period; the previous one weighted by the part of it
    the sliding window still covers; a hit allowed while the floor of the weighted count stays
    within the limit) and of its ``get_window_stats`` (remaining, next reset), in one dict
    lookup and no lock: one event loop thread calls it.

    Written here because it sits on every API request: limits' own memory store took ~25 µs a
    request under load (a lock per key, a timer thread re-armed every 10 ms that sweeps every
    key, and two calls for the hit and the stats). tests/test_ratelimit.py holds the two equal.
    Redis-shared limits and the exact moving windows stay on limits."""

    MAX_KEYS = 200_000

    def __init__(self) -> None:
        self._windows: dict[str, list] = {}  # key -> [window index, its count, the previous window's count]

    def hit(self, key: str, limit: int, period: float) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until a request frees up) after hitting ``key``."""
        now = time.time()
        index = math.floor(now / period)
        window = self._windows.get(key)
        if window is None or window[0] < index - 1:
            current = previous = 0
        elif window[0] == index - 1:
            current, previous = 0, window[1]
        else:
            current, previous = window[1], window[2]
        current_ttl = (1 - ((now / period) % 1)) * period
        previous_ttl = (1 - (((now - period) / period) % 1)) * period if previous else 0.0
        weighted = previous * previous_ttl / period + current
        allowed = limit >= 1 and math.floor(weighted) + 1 <= limit
        if allowed:
            current += 1
            weighted += 1
        if window is None:
            if len(self._windows) >= self.MAX_KEYS:
                self._prune(index)
            self._windows[key] = [index, current, previous]
        else:
            window[0], window[1], window[2] = index, current, previous
        remaining = max(0, limit - math.floor(weighted))
        if not (previous or current):
            return allowed, remaining, 0.0
        reset_in = math.inf
        if previous:
            reset_in = previous_ttl % (period / previous)
        if current:
            reset_in = min(reset_in, (current_ttl + period) % period)
        return allowed, remaining, reset_in

    def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    def _prune(self, index: int) -> None:
        stale = [key for key, window in self._windows.items() if window[0] < index - 1]
        for key in stale:
            del self._windows[key]
        if len(self._windows) >= self.MAX_KEYS:  # all live: forget them rather than grow
            self._windows.clear()


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._limiter: aio_strategies.SlidingWindowCounterRateLimiter | None
        self._exact: aio_strategies.MovingWindowRateLimiter | strategies.MovingWindowRateLimiter
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            self._storage = storage.storage_from_string(uri, implementation="redispy")
            self._local = None
            self._limiter = aio_strategies.SlidingWindowCounterRateLimiter(self._storage)
            self._exact = aio_strategies.MovingWindowRateLimiter(self._storage)
        else:  # sliding windows in InProcessWindows; only the exact ones in limits' memory store
            self._storage = storage.MemoryStorage()
            self._local = InProcessWindows()
            self._limiter = None
            self._exact = strategies.MovingWindowRateLimiter(self._storage)

    async def hit(self, namespace: str, key: str, per_minute: int, *, per_second: bool = False,
                  exact: bool = False) -> Decision:
        if self._local is not None and not exact:
            period = 1 if per_second else 60
            allowed, remaining, reset_in = self._local.hit(f"{namespace}/{period}/{key}", per_minute, period)
            return Decision(allowed, per_minute, remaining, max(0, math.ceil(reset_in)))
        item = RateLimitItemPerSecond(per_minute) if per_second else RateLimitItemPerMinute(per_minute)
        limiter: Any = self._exact if exact else self._limiter  # async over Redis, sync in memory
        try:
            if self._local is None:  # Redis: limits' async strategies
                allowed = await limiter.hit(item, namespace, key)
                stats = await limiter.get_window_stats(item, namespace, key)
            else:
                allowed = limiter.hit(item, namespace, key)
                stats = limiter.get_window_stats(item, namespace, key)
        except Exception:  # the store is down: serve rather than refuse everyone
            log.exception("rate-limit store unavailable")
            return Decision(True, per_minute, per_minute, 0)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, per_minute, max(0, stats.remaining), reset)

    async def clear(self, namespace: str, key: str, per_minute: int, *, exact: bool = False) -> None:
        if self._local is not None and not exact:
            self._local.clear(f"{namespace}/60/{key}")
            return
        limiter: Any = self._exact if exact else self._limiter
        result = limiter.clear(RateLimitItemPerMinute(per_minute), namespace, key)
        if self._local is None:
            await result
