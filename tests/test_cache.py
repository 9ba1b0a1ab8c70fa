"""The read caches' single-flight loading: requests that miss one key together share one
database read, but never one that began before the commit they saw."""

from __future__ import annotations

import asyncio

from cielo.cache import CacheRegistry, RequestMarker, request_marker
from cielo.db.changes import ChangeWatcher


class Watcher(ChangeWatcher):
    exact = True

    def __init__(self) -> None:
        self.commits = 0
        self._seen = -1

    async def changed(self) -> bool:
        changed, self._seen = self._seen != self.commits, self.commits
        return changed


async def _request(registry, cache, key, load):
    request_marker.set(RequestMarker())  # each task runs in its own copy of the context
    await registry.refresh()
    return await cache.get_or_load(key, load)


def test_concurrent_misses_share_one_load_and_a_commit_starts_another():
    async def scenario():
        watcher = Watcher()
        registry = CacheRegistry(watcher)
        cache = registry.cache("things")
        loads = []

        async def load():
            seen = watcher.commits  # what the read sees is fixed when it starts
            loads.append(seen)
            await asyncio.sleep(0.01)  # a read through the driver: other requests arrive meanwhile
            return f"read after {seen} commit(s)"

        first = await asyncio.gather(*[_request(registry, cache, "k", load) for _ in range(50)])
        assert first == ["read after 0 commit(s)"] * 50 and loads == [0]
        assert await _request(registry, cache, "k", load) == "read after 0 commit(s)" and loads == [0]  # kept

        # a commit while a load is in flight: requests that saw it wait for a load of their own
        slow = asyncio.ensure_future(_request(registry, cache, "k2", load))
        await asyncio.sleep(0.002)  # its load has begun
        watcher.commits += 1
        after = await asyncio.gather(*[_request(registry, cache, "k2", load) for _ in range(10)])
        assert await slow == "read after 0 commit(s)"
        assert after == ["read after 1 commit(s)"] * 10 and loads == [0, 0, 1]

    asyncio.run(scenario())


def test_caching_off_loads_every_time():
    async def scenario():
        registry = CacheRegistry(Watcher(), enabled=False)
        cache = registry.cache("things")
        calls = []

        async def load():
            calls.append(1)
            return "value"

        assert await asyncio.gather(*[_request(registry, cache, "k", load) for _ in range(5)]) == ["value"] * 5
        assert len(calls) == 5

    asyncio.run(scenario())
