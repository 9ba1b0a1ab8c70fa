"""In-process read caches that are dropped the moment anything is committed anywhere.

One :class:`CacheRegistry` per process owns the database's change watcher and every cache.
A request calls :meth:`CacheRegistry.refresh` before its first lookup: the watcher says
whether any commit happened since the last look (db/changes.py), and if so every cache is
emptied and the generation moves on. A value read from the database is stored only if no
clear happened since the read began (``put(..., generation)``), so a slow reader cannot put
back what a commit made stale. A lookup in a request that has not refreshed misses: a
forgotten call costs speed, never correctness. With caching off, every lookup misses.
"""

from __future__ import annotations

import contextvars
import weakref
from typing import Any, Generic, Hashable, TypeVar

from cielo.db.changes import ChangeWatcher

V = TypeVar("V")


class RequestMarker:
    """A fresh object per request (the middleware sets it). Not the request id, which a
    client may choose and repeat."""

    __slots__ = ("__weakref__",)


request_marker: contextvars.ContextVar[RequestMarker | None] = contextvars.ContextVar("request_marker", default=None)


class ReadCache(Generic[V]):
    def __init__(self, registry: "CacheRegistry", name: str, max_entries: int) -> None:
        self._registry = registry
        self.name = name
        self._max = max_entries
        self._data: dict[Hashable, V] = {}

    def get(self, key: Hashable) -> V | None:
        if not self._registry.current():
            return None
        return self._data.get(key)

    def generation(self) -> int:
        """Take before reading the database; give to :meth:`put`."""
        return self._registry.generation

    def put(self, key: Hashable, value: V, generation: int) -> None:
        if not self._registry.current() or generation != self._registry.generation:
            return
        if len(self._data) >= self._max:
            self._data.clear()
        self._data[key] = value

    def clear(self) -> None:
        self._data.clear()


class CacheRegistry:
    def __init__(self, watcher: ChangeWatcher, *, enabled: bool = True) -> None:
        self._watcher = watcher
        self.enabled = enabled and watcher.exact
        self._caches: list[ReadCache[Any]] = []
        self._refreshed: weakref.WeakSet[RequestMarker] = weakref.WeakSet()
        self.generation = 0

    def cache(self, name: str, max_entries: int = 100_000) -> ReadCache[Any]:
        cache: ReadCache[Any] = ReadCache(self, name, max_entries)
        self._caches.append(cache)
        return cache

    def current(self) -> bool:
        """The caches may be used: enabled, and refreshed in this request."""
        marker = request_marker.get()
        return self.enabled and marker is not None and marker in self._refreshed

    async def refresh(self) -> None:
        """Once per request, before the first lookup: drop every cache if anything changed."""
        if not self.enabled:
            return
        marker = request_marker.get()
        if marker is None or marker in self._refreshed:
            return
        if await self._watcher.changed():
            self.generation += 1
            for cache in self._caches:
                cache.clear()
        self._refreshed.add(marker)
