"""ratelimit.InProcessWindows answers exactly what limits' sliding-window counter (its memory
store) answers, hit after hit, on the same clock."""

from __future__ import annotations

import asyncio
import logging
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from cielo.ratelimit import FailureThrottle, InProcessWindows, RateLimiter, Throttled
from tests.support.db import run
from tests.support.live import SilentListener, free_port


class _Clock:
    now = 0.0

    def time(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def fake_clock():
    clock = _Clock()
    real = time.time
    time.time = clock.time  # limits reads time.time(); so does InProcessWindows
    try:
        yield clock
    finally:
        time.time = real


steps = st.lists(st.tuples(st.floats(min_value=0, max_value=40, allow_nan=False),  # seconds since the last hit
                           st.sampled_from(["a", "b"]),
                           st.booleans()),  # a per-second limit or a per-minute one
                 min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(steps=steps, limit=st.integers(min_value=0, max_value=7), start=st.floats(min_value=1e9, max_value=2e9))
def test_the_same_decisions_as_limits(fake_clock, steps, limit, start):
    clock = fake_clock
    clock.now = start
    ours, theirs = InProcessWindows(), SlidingWindowCounterRateLimiter(MemoryStorage())
    for elapsed, key, per_second in steps:
        clock.now += elapsed / (60 if per_second else 1)
        item = RateLimitItemPerSecond(limit) if per_second else RateLimitItemPerMinute(limit)
        allowed, remaining, reset_in = ours.hit(f"{key}/{per_second}", limit, 1 if per_second else 60)
        expected = theirs.hit(item, key, str(per_second))
        stats = theirs.get_window_stats(item, key, str(per_second))
        assert (allowed, remaining) == (expected, stats.remaining)
        assert math.isclose(reset_in, stats.reset_time - clock.now, abs_tol=1e-6)


def test_stale_keys_are_pruned_when_full(monkeypatch):
    windows = InProcessWindows()
    monkeypatch.setattr(InProcessWindows, "MAX_KEYS", 3)
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    for key in ("a", "b", "c"):
        windows.hit(key, 5, 60)
    now[0] += 180  # every window is two periods old
    windows.hit("d", 5, 60)
    assert set(windows._windows) == {"d"}


def test_the_limiter_keeps_periods_apart_and_clears():

    async def go():
        limiter = RateLimiter(None)
        assert (await limiter.hit("ns", "k", 1)).allowed
        assert not (await limiter.hit("ns", "k", 1)).allowed
        assert (await limiter.hit("ns", "k", 1, per_second=True)).allowed  # its own window
        await limiter.clear("ns", "k", 1)
        decision = await limiter.hit("ns", "k", 1)
        assert decision.allowed and decision.remaining == 0 and decision.headers()["RateLimit-Limit"] == "1"

    run(go())


# ---- Redis out of reach: the breaker and the degraded mode (API.md §2) -------------------


def _out_of_reach_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "cielo.ratelimit" and "out of reach" in r.getMessage()]


def test_an_unreachable_redis_leaves_the_limits_to_this_process(caplog):
    """Nothing listens on Redis's port: every limit still holds, counted here (it used to let
    everything through), and the outage is one warning without a traceback, not one a request."""

    async def go():
        limiter = RateLimiter(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
        try:
            windows = [(await limiter.hit("ns", "k", 2)).allowed for _ in range(3)]
            exact = [(await limiter.hit("ns", "e", 2, exact=True)).allowed for _ in range(3)]
            peeked = await limiter.peek("ns", "e", 2)
            return windows, exact, peeked, limiter.degraded, await limiter.ready()
        finally:
            await limiter.aclose()

    with caplog.at_level(logging.WARNING, logger="cielo.ratelimit"):
        windows, exact, peeked, degraded, ready = run(go())
    assert windows == exact == [True, True, False]
    assert not peeked.allowed and peeked.remaining == 0
    assert degraded and ready is False
    lines = _out_of_reach_lines(caplog)
    assert len(lines) == 1 and lines[0].exc_info is None and "ConnectionError" in lines[0].getMessage()


def test_a_silent_redis_costs_one_timeout_then_nothing(caplog):
    """A Redis that accepts connections and never answers: the first call gives up after the
    timeout, and from then on no call waits for it at all."""

    listener = SilentListener(free_port())

    async def go():
        limiter = RateLimiter(f"redis://127.0.0.1:{listener._socket.getsockname()[1]}/0", timeout=0.3)
        try:
            started = time.perf_counter()
            first = await limiter.hit("ns", "k", 3, exact=True)
            first_took = time.perf_counter() - started
            started = time.perf_counter()
            rest = [(await limiter.hit("ns", "k", 3, exact=True)).allowed for _ in range(50)]
            rest_took = time.perf_counter() - started
            return first, first_took, rest, rest_took, await limiter.ready()
        finally:
            await limiter.aclose()

    try:
        with caplog.at_level(logging.WARNING, logger="cielo.ratelimit"):
            first, first_took, rest, rest_took, ready = run(go())
    finally:
        listener.close()
    assert first.allowed and 0.2 < first_took < 1.5, first_took
    assert rest == [True, True] + [False] * 48 and rest_took < 0.2, rest_took
    assert ready is False and listener.accepted
    lines = _out_of_reach_lines(caplog)
    assert len(lines) == 1 and "TimeoutError" in lines[0].getMessage()


def test_limits_go_back_to_redis_when_it_answers_again(private_redis, caplog):

    async def go():
        limiter = RateLimiter(private_redis.url, timeout=0.3, probe_every=0.1)
        try:
            assert (await limiter.hit("ns", "k", 5)).allowed and private_redis.keys() > 0
            private_redis.stop()
            assert (await limiter.hit("ns", "k", 5)).allowed and limiter.degraded
            private_redis.start()  # an empty Redis on the same port
            for _ in range(100):  # the probe's next PING (every 0.1 s) finds it
                if not limiter.degraded:
                    break
                await asyncio.sleep(0.05)
            assert not limiter.degraded and await limiter.ready()
            assert (await limiter.hit("ns", "k", 5)).remaining == 4  # counted in Redis again
            assert private_redis.keys() > 0
        finally:
            await limiter.aclose()

    with caplog.at_level(logging.INFO, logger="cielo.ratelimit"):
        run(go())
    messages = [r.getMessage() for r in caplog.records if r.name == "cielo.ratelimit"]
    assert len(_out_of_reach_lines(caplog)) == 1
    assert sum("shared again" in m for m in messages) == 1


# ---- failures only ----------------------------------------------------------------------


def test_a_failure_throttle_counts_failures_only():

    async def go():
        throttle = FailureThrottle(RateLimiter(None), "sign-in")
        limits = (("account", 3), ("address", 30))
        for _ in range(10):  # successes: never counted
            async with throttle.attempt(limits):
                pass
        outcomes = []
        for _ in range(4):
            try:
                async with throttle.attempt(limits) as attempt:
                    await attempt.failed()
                outcomes.append("failed")
            except Throttled as exc:
                outcomes.append(exc.decision.reset_after)
        return outcomes

    outcomes = run(go())
    assert outcomes[:3] == ["failed"] * 3 and 1 <= outcomes[3] <= 60


def test_parallel_attempts_cannot_outrun_a_failure_throttle():
    """Attempts that start together all find the window empty; those in flight count until
    they end, so 12 parallel wrong guesses at a key with room for 5 get 5 through."""

    async def go():
        throttle = FailureThrottle(RateLimiter(None), "sign-in")

        async def guess():
            try:
                async with throttle.attempt((("account", 5),)) as attempt:
                    await asyncio.sleep(0.05)  # the password check
                    await attempt.failed()
                return "checked"
            except Throttled:
                return "throttled"

        first = await asyncio.gather(*(guess() for _ in range(12)))
        later = await guess()
        return first, later, throttle._in_flight

    first, later, in_flight = run(go())
    assert first.count("checked") == 5 and later == "throttled" and in_flight == {}
