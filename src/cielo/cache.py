"""In-process read caches that are dropped the moment anything is committed anywhere.

One :class:`CacheRegistry` per process owns the database's change watcher and every cache.
Each lookup first asks the watcher whether any commit happened since the last look; if so,
all caches are emptied before answering. Where the watcher cannot tell (PostgreSQL), or
caching is turned off, every lookup misses and callers read the database.
"""

from __future__ import annotations

from typing import Any, Generic, Hashable, TypeVar

from cielo.db.changes import ChangeWatcher
from cielo.logs import request_id_var

V = TypeVar("V")

_MISSING = object()


class ReadCache(Generic[V]):
    def __init__(self, registry: "CacheRegistry", name: str, max_entries: int) -> None:
        self._registry = registry
        self.name = name
        self._max = max_entries
        self._data: dict[Hashable, V] = {}

    def get(self, key: Hashable) -> V | None:
        if not self._registry.poll():
            return None
        return self._data.get(key)

    def put(self, key: Hashable, value: V) -> None:
        if not self._registry.enabled:
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
        self._polled_for: str | None = None

    def cache(self, name: str, max_entries: int = 100_000) -> ReadCache[Any]:
        cache: ReadCache[Any] = ReadCache(self, name, max_entries)
        self._caches.append(cache)
        return cache

    def poll(self) -> bool:
        """True when the caches may be read (and they are current).

        The watcher is asked once per request (the first lookup of a request asks; later ones
        in the same request reuse the answer): a request sees the database as of its start.
        """
        if not self.enabled:
            return False
        request_id = request_id_var.get()
        if request_id is not None and request_id == self._polled_for:
            return True
        self._polled_for = request_id
        if self._watcher.changed():
            for cache in self._caches:
                cache.clear()
        return True
