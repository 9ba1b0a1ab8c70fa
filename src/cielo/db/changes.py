"""Has anything been committed since I last looked? The basis of the read caches.

Caches of tokens and rendered responses must never serve data that another process changed
(a revoked token is refused at once by every process). On SQLite, ``PRAGMA data_version`` on a
connection of our own changes whenever any other connection, in any process, commits: one
cheap read per request tells us exactly when to drop the caches. PostgreSQL has no such
local signal, so there the watcher reports a change every time and caches are bypassed.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import unquote


class ChangeWatcher:
    """Base: never certain, so every poll reports a change (caching disabled)."""

    exact = False

    def changed(self) -> bool:
        return True

    def close(self) -> None:  # pragma: no cover - nothing to release
        pass


class SQLiteDataVersionWatcher(ChangeWatcher):
    exact = True

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # check_same_thread=False: the watcher is polled from the event loop thread only,
            # but it may be created before the loop starts.
            self._conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        return self._conn

    def changed(self) -> bool:
        try:
            version = self._connection().execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self.close()
            return True
        if version != self._version:
            self._version = version
            return True
        return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._version = None


def watcher_for(url: str) -> ChangeWatcher:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        path = unquote(path.split("?", 1)[0])
        if path and path != ":memory:":
            return SQLiteDataVersionWatcher(path)
    return ChangeWatcher()
