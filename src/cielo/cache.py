"""In-process read caches, dropped the moment what they read is committed anywhere.

One :class:`CacheRegistry` per process owns the database's change watcher and every cache.
A request's first lookup refreshes the registry (:meth:`CacheRegistry.refresh`, done by
:meth:`ReadCache.get_or_load`): the watcher says which tables the commits since the last look
wrote (db/changes.py), and every cache that reads one of them is emptied (a cache declares its
tables; one that declares none is emptied by any commit; on SQLite every commit empties every
cache but the process's own group commits, which name their tables). A value read from the
database is stored only if its cache was not emptied since the read began
(``put(..., generation)``), so a slow reader cannot put back what a commit made stale. A
lookup in a request that has not refreshed misses: a forgotten call costs speed, never
correctness. With caching off, every lookup misses.

:meth:`ReadCache.get_or_load` is the usual way in: concurrent misses of one key in one
generation share a single load. After a commit empties the caches, the requests already in
flight (64 of them under load) would otherwise each read the same row, one after another
through the database driver (/me/transactions on SQLite stalled for seconds).
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from cielo.db.changes import EVERYTHING, ChangeWatcher

V = TypeVar("V")


class RequestMarker:
    """A fresh object per request (the middleware sets it). Not the request id, which a
    client may choose and repeat."""

    __slots__ = ("__weakref__",)


request_marker: contextvars.ContextVar[RequestMarker | None] = contextvars.ContextVar("request_marker", default=None)


class ReadCache(Generic[V]):
    def __init__(self, registry: CacheRegistry, name: str, max_entries: int,
                 tables: frozenset[str] | None = None) -> None:
        self._registry = registry
        self.name = name
        self.tables = tables  # every table a load reads; None: emptied by any commit
        self._max = max_entries
        self._data: dict[Hashable, V] = {}
        self._loading: dict[tuple[Hashable, int], asyncio.Future] = {}
        self.generation = 0  # moves on each emptying

    def reads_any_of(self, tables: frozenset[str]) -> bool:
        return self.tables is None or tables >= EVERYTHING or not self.tables.isdisjoint(tables)

    def get(self, key: Hashable) -> V | None:
        if not self._registry.current():
            return None
        return self._data.get(key)

    def put(self, key: Hashable, value: V, generation: int) -> None:
        if not self._registry.current() or generation != self.generation:
            return
        if len(self._data) >= self._max:
            self._data.clear()
        self._data[key] = value

    def clear(self) -> None:
        self._data.clear()
        self.generation += 1

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or what ``load()`` reads (kept unless None). Concurrent misses
        of ``key`` share one load, but only within a generation: a request that saw a commit
        never joins a load that began before it. Refreshes the registry first (once per request)."""
        await self._registry.refresh()
        if not self._registry.current():
            return await load()
        found = self._data.get(key)
        if found is not None:
            return found
        generation = self.generation
        flight = (key, generation)
        task = self._loading.get(flight)
        if task is None:
            task = self._loading[flight] = asyncio.ensure_future(load())
            task.add_done_callback(lambda _: self._loading.pop(flight, None))
        loaded: V = await asyncio.shield(task)  # a cancelled waiter leaves the load to the others
        if loaded is not None:
            self.put(key, loaded, generation)
        return loaded


class CacheRegistry:
    def __init__(self, watcher: ChangeWatcher, *, enabled: bool = True) -> None:
        self._watcher = watcher
        self.enabled = enabled and watcher.exact
        self._caches: list[ReadCache[Any]] = []
        self._refreshed: weakref.WeakSet[RequestMarker] = weakref.WeakSet()
        self.generation = 0

    def cache(self, name: str, max_entries: int = 100_000, *, tables: tuple[str, ...] | None = None) -> ReadCache[Any]:
        """A new cache; ``tables``: every table its loads read (it is emptied only when one of
        them is written), or None to be emptied by any commit."""
        cache: ReadCache[Any] = ReadCache(self, name, max_entries, frozenset(tables) if tables is not None else None)
        self._caches.append(cache)
        return cache

    def current(self) -> bool:
        """The caches may be used: enabled, and refreshed in this request."""
        marker = request_marker.get()
        return self.enabled and marker is not None and marker in self._refreshed

    async def refresh(self) -> None:
        """Once per request, before the first lookup: drop the caches that read what changed.
        ``generation`` moves on any change (the promotions' search index then reads its log)."""
        if not self.enabled:
            return
        marker = request_marker.get()
        if marker is None or marker in self._refreshed:
            return
        tables = await self._watcher.changed_tables()
        if tables:
            self.generation += 1
            for cache in self._caches:
                if cache.reads_any_of(tables):
                    cache.clear()
        self._refreshed.add(marker)
