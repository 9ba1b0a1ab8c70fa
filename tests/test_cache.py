"""The read caches' single-flight loading: requests that miss one key together share one
database read, but never one that began before the commit they saw; a commit empties the
caches that read what it wrote, and only those."""

from __future__ import annotations

import asyncio

from cielo.cache import CacheRegistry, RequestMarker, request_marker
from cielo.db.changes import EVERYTHING, NOTHING, ChangeWatcher


class Watcher(ChangeWatcher):
    """Commits of unknown tables (``commits``), or of the tables named in ``written``."""

    exact = True

    def __init__(self) -> None:
        self.commits = 0
        self._seen = -1
        self.written: set[str] = set()

    async def changed_tables(self) -> frozenset[str]:
        changed, self._seen = self._seen != self.commits, self.commits
        written, self.written = frozenset(self.written), set()
        return EVERYTHING if changed else written or NOTHING


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


def test_a_commit_empties_the_caches_that_read_what_it_wrote():
    async def scenario():
        watcher = Watcher()
        registry = CacheRegistry(watcher)
        tokens = registry.cache("tokens", tables=("tokens", "grants"))
        apps = registry.cache("apps", tables=("applications",))
        anything = registry.cache("answers")  # no tables declared: any commit empties it
        reads = []

        def loader(name):
            async def load():
                reads.append(name)
                return name
            return load

        async def read_all():
            for cache in (tokens, apps, anything):
                await _request(registry, cache, "k", loader(cache.name))

        await read_all()
        assert reads == ["tokens", "apps", "answers"]
        watcher.written = {"grants", "subscription_requests"}
        generation = registry.generation
        await read_all()
        assert reads[3:] == ["tokens", "answers"], "apps reads neither table: kept"
        assert registry.generation == generation + 1, "the search index still hears of every commit"
        await read_all()
        assert reads[5:] == [], "nothing committed: everything kept"
        watcher.commits += 1  # a commit the watcher cannot place empties everything
        await read_all()
        assert reads[5:] == ["tokens", "apps", "answers"]

    asyncio.run(scenario())
