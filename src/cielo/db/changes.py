"""Has anything been committed since I last looked? The basis of the read caches.

Caches of tokens and rendered answers must never serve data that another process changed
(a revoked token is refused at once by every process). Each watcher answers exactly:

- SQLite: ``PRAGMA data_version`` on a connection of our own changes whenever any other
  connection, in any process, commits. One local read (~5 us).
- PostgreSQL: ``pg_current_snapshot()`` changes whenever a transaction that wrote anything
  commits (its id leaves the in-progress list, or the next id moves on). One round trip on a
  dedicated connection; concurrent requests share a poll that started after they arrived,
  so no request can miss a commit that happened before it began.

When a watcher cannot tell (connection lost, in-memory database) it reports a change, so the
caches are dropped and reads go to the database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote


class ChangeWatcher:
    """Base: never certain, so every poll reports a change (caching disabled)."""

    exact = False

    async def changed(self) -> bool:
        return True

    async def close(self) -> None:
        pass


class SQLiteDataVersionWatcher(ChangeWatcher):
    exact = True

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Polled from the event loop's thread only, but it may be created before the loop runs.
            self._conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        return self._conn

    async def changed(self) -> bool:
        try:
            version = self._connection().execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            await self.close()
            return True
        if version != self._version:
            self._version = version
            return True
        return False

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._version = None


class PostgresSnapshotWatcher(ChangeWatcher):
    exact = True

    def __init__(self, dsn: str, connect: Callable | None = None) -> None:
        self._dsn = dsn
        self._connect = connect
        self._conn: Any = None  # an asyncpg connection (asyncpg ships no types)
        self._snapshot: str | None = None
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task | None = None

    async def changed(self) -> bool:
        # Join the next poll; a poll already running may have started before we arrived.
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_task(self._next_poll())
        return await asyncio.shield(self._pending)

    async def _next_poll(self) -> bool:
        async with self._lock:
            self._pending = None  # callers from now on need the poll after this one
            return await self._poll()

    async def _poll(self) -> bool:
        import asyncpg

        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, timeout=5)
                self._snapshot = None
            snapshot = await self._conn.fetchval("SELECT pg_current_snapshot()::text", timeout=5)
        except Exception:
            await self.close()
            return True
        if snapshot != self._snapshot:
            self._snapshot = snapshot
            return True
        return False

    async def close(self) -> None:
        conn, self._conn, self._snapshot = self._conn, None, None
        if conn is not None:
            try:
                await conn.close(timeout=2)
            except Exception:  # pragma: no cover - already gone
                conn.terminate()


def watcher_for(url: str) -> ChangeWatcher:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        path = unquote(path.split("?", 1)[0])
        if path and path != ":memory:":
            return SQLiteDataVersionWatcher(path)
        return ChangeWatcher()
    if url.startswith("postgresql"):
        return PostgresSnapshotWatcher(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    return ChangeWatcher()
