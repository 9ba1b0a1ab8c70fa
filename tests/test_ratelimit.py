"""ratelimit.InProcessWindows answers exactly what limits' sliding-window counter (its memory
store) answers, hit after hit, on the same clock."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from cielo.ratelimit import InProcessWindows


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
    from cielo.ratelimit import RateLimiter
    from tests.support.db import run

    async def go():
        limiter = RateLimiter(None)
        assert (await limiter.hit("ns", "k", 1)).allowed
        assert not (await limiter.hit("ns", "k", 1)).allowed
        assert (await limiter.hit("ns", "k", 1, per_second=True)).allowed  # its own window
        await limiter.clear("ns", "k", 1)
        decision = await limiter.hit("ns", "k", 1)
        assert decision.allowed and decision.remaining == 0 and decision.headers()["RateLimit-Limit"] == "1"

    run(go())
