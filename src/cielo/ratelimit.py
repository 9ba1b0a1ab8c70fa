"""Request-rate limits (the ``limits`` library): shared through Redis when CIELO_REDIS_URL is
set, in-process otherwise. API traffic uses sliding-window counters (O(1) memory per key,
smooth at window edges, but approximate across an edge); sign-in throttles use exact moving
windows (a handful of attempts per key: a guess must never slip through at a minute's edge).

While Redis is unreachable or silent, every limit is counted in each process's own windows
(the degraded mode, API.md §2): Redis gets short timeouts and no retries, and a circuit
breaker stops asking it at the first failure, until a background probe finds it again.
``FailureThrottle`` counts failed attempts only (wrong passwords), never successful ones."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond, storage, strategies
from limits.aio import strategies as aio_strategies
from limits.aio.storage import RedisStorage
from limits.errors import StorageError
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

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

    Written here because it sits on every API request: limits' own memory store took a
    sizeable share of a cached read's time under load (a lock per key, a timer thread re-armed
    every 10 ms that sweeps every key, and two calls for the hit and the stats).
    tests/test_ratelimit.py holds the two equal. Redis-shared limits and the exact moving
    windows stay on limits."""

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


# What a store out of reach raises: limits wraps redis-py's errors (wrap_exceptions), the rest
# are redis-py's own (a PING) and the socket's.
STORE_ERRORS = (StorageError, RedisError, OSError)


def redis_pool(url: str, timeout: float) -> ConnectionPool:
    """Connections to Redis that give up after ``timeout`` seconds to connect or to answer, and
    never retry by themselves (redis-py retries 3 times with backoff by default: a silent Redis
    would cost four timeouts; here the breaker decides what happens next)."""
    return ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                   retry=Retry(NoBackoff(), 0))


class RateLimiter:
    """Every limit of the service. ``hit`` counts a request against a window; ``peek`` reads an
    exact window without counting.

    With Redis, a small circuit breaker (one boolean, ``_here``, that every call tests first):
    the first failure of a Redis call (after at most the short timeout) logs one warning and
    sends every later call to this process's windows at once, with no wait; a background task
    pings Redis every ``probe_every`` seconds and, when it answers, logs one line and sends the
    calls back to it. Written here because neither limits nor redis-py has one (limits' storages
    raise or hang; redis-py only retries)."""

    def __init__(self, redis_url: str | None = None, *, timeout: float = 0.5, probe_every: float = 1.0) -> None:
        self._local = InProcessWindows()  # sliding windows here: without Redis, or while it is away
        self._memory = strategies.MovingWindowRateLimiter(storage.MemoryStorage())  # exact windows here
        self._probe_every = probe_every
        self._probe: asyncio.Task | None = None
        self.redis: Redis | None = None
        self._pool: ConnectionPool | None = None
        self._shared: aio_strategies.SlidingWindowCounterRateLimiter | None = None
        self._shared_exact: aio_strategies.MovingWindowRateLimiter | None = None
        self._here = redis_url is None  # count in this process (no Redis, or the breaker is open)
        if redis_url:
            url = redis_url.removeprefix("async+")
            self._pool = redis_pool(url, timeout)
            self.redis = Redis(connection_pool=self._pool)
            options: dict[str, Any] = {"connection_pool": self._pool}
            store = RedisStorage("async+" + url, wrap_exceptions=True, implementation="redispy", **options)
            self._shared = aio_strategies.SlidingWindowCounterRateLimiter(store)
            self._shared_exact = aio_strategies.MovingWindowRateLimiter(store)

    @property
    def degraded(self) -> bool:
        """Redis is configured but out of reach: limits are counted in each process."""
        return self._here and self.redis is not None

    async def hit(self, namespace: str, key: str, per_minute: int, *, per_second: bool = False,
                  exact: bool = False) -> Decision:
        if self._here and not exact:
            period = 1 if per_second else 60
            allowed, remaining, reset_in = self._local.hit(f"{namespace}/{period}/{key}", per_minute, period)
            return Decision(allowed, per_minute, remaining, max(0, math.ceil(reset_in)))
        item = RateLimitItemPerSecond(per_minute) if per_second else RateLimitItemPerMinute(per_minute)
        if not self._here:
            limiter: Any = self._shared_exact if exact else self._shared
            try:
                allowed = await limiter.hit(item, namespace, key)
                stats = await limiter.get_window_stats(item, namespace, key)
            except STORE_ERRORS as exc:
                self._open(exc)
                return await self.hit(namespace, key, per_minute, per_second=per_second, exact=exact)
        else:
            allowed = self._memory.hit(item, namespace, key)
            stats = self._memory.get_window_stats(item, namespace, key)
        return _decision(allowed, per_minute, stats)

    async def peek(self, namespace: str, key: str, per_minute: int) -> Decision:
        """An exact window as it stands, not counted: ``allowed`` when it has room for one more."""
        item = RateLimitItemPerMinute(per_minute)
        if not self._here:
            assert self._shared_exact is not None
            try:
                stats = await self._shared_exact.get_window_stats(item, namespace, key)
            except STORE_ERRORS as exc:
                self._open(exc)
                return await self.peek(namespace, key, per_minute)
        else:
            stats = self._memory.get_window_stats(item, namespace, key)
        return _decision(stats.remaining > 0, per_minute, stats)

    async def clear(self, namespace: str, key: str, per_minute: int, *, exact: bool = False) -> None:
        if self._here and not exact:
            self._local.clear(f"{namespace}/60/{key}")
            return
        item = RateLimitItemPerMinute(per_minute)
        if not self._here:
            limiter: Any = self._shared_exact if exact else self._shared
            try:
                await limiter.clear(item, namespace, key)
                return
            except STORE_ERRORS as exc:
                self._open(exc)
        self._memory.clear(item, namespace, key)

    async def ready(self) -> bool | None:
        """For /readyz: None without Redis; False at once while the breaker is open; else whether
        Redis answers a PING within the timeout (a failure opens the breaker)."""
        if self.redis is None:
            return None
        if self._here:
            return False
        try:
            await self.redis.ping()
        except STORE_ERRORS as exc:
            self._open(exc)
            return False
        return True

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            try:
                await self._probe
            except asyncio.CancelledError:
                pass
        if self._pool is not None:
            await self._pool.disconnect()

    def _open(self, exc: BaseException) -> None:
        if self._here:  # requests in flight when Redis went away: one line was enough
            return
        self._here = True
        cause = exc.storage_error if isinstance(exc, StorageError) else exc
        log.warning("Redis (rate limits) is out of reach (%s: %s); limits are counted in each process until it "
                    "answers again", type(cause).__name__, str(cause)[:200])
        self._probe = asyncio.get_running_loop().create_task(self._until_back())

    async def _until_back(self) -> None:
        assert self.redis is not None
        while True:
            await asyncio.sleep(self._probe_every)
            try:
                await self.redis.ping()
            except Exception:  # anything but an answer: still away
                continue
            self._here = False
            log.warning("Redis (rate limits) answers again; limits are shared again")
            return


def _decision(allowed: bool, per_minute: int, stats: Any) -> Decision:
    return Decision(allowed, per_minute, max(0, stats.remaining), max(0, math.ceil(stats.reset_time - time.time())))


class Throttled(Exception):
    """An attempt refused: its window is full (``decision.reset_after`` says for how long)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"throttled for {decision.reset_after} s")
        self.decision = decision


class Attempt:
    """One attempt let through by a FailureThrottle; ``failed()`` counts it."""

    __slots__ = ("_throttle", "_limits")

    def __init__(self, throttle: FailureThrottle, limits: Sequence[tuple[str, int]]) -> None:
        self._throttle = throttle
        self._limits = limits

    async def failed(self) -> None:
        for key, per_minute in self._limits:
            await self._throttle.limiter.hit(self._throttle.namespace, key, per_minute, exact=True)


class FailureThrottle:
    """Failed attempts per key in exact one-minute windows (API.md §3.1): an attempt is let
    through while every key's window has room, and only a failure is counted, so a successful
    sign-in never brings anyone closer to a 429.

    Counting after the outcome leaves a gap: attempts started together would all see room.
    So the attempts in flight in this process count as if they had failed until they end
    (``attempt`` reserves before it reads the window): N parallel guesses at a key with room
    for five get five through, not N. Across processes the gap is one burst per process."""

    def __init__(self, limiter: RateLimiter, namespace: str) -> None:
        self.limiter = limiter
        self.namespace = namespace
        self._in_flight: dict[str, int] = {}

    @asynccontextmanager
    async def attempt(self, limits: Sequence[tuple[str, int]],
                      refuse: Callable[[Decision], Exception] = Throttled) -> AsyncIterator[Attempt]:
        """Let one attempt through ``limits`` ((key, failures a minute), ...), or raise
        ``refuse(decision)`` of the first full window."""
        reserved: list[str] = []
        try:
            for key, per_minute in limits:
                ahead = self._in_flight.get(key, 0) + 1  # this attempt and those in flight before it
                self._in_flight[key] = ahead
                reserved.append(key)
                decision = await self.limiter.peek(self.namespace, key, per_minute)
                if decision.remaining < ahead:
                    raise refuse(Decision(False, per_minute, decision.remaining, max(1, decision.reset_after)))
            yield Attempt(self, limits)
        finally:
            for key in reserved:
                left = self._in_flight[key] - 1
                if left:
                    self._in_flight[key] = left
                else:
                    del self._in_flight[key]
