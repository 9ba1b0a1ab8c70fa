"""What has been committed since I last looked? The basis of the read caches.

Caches of tokens and rendered answers must never serve data that another process changed
(a revoked token is refused at once by every process). A watcher's ``changed_tables()`` names
the tables written by the transactions committed since its last look; :data:`EVERYTHING` when
it cannot tell which, and an empty set when nothing was committed:

- SQLite: ``PRAGMA data_version`` on a connection of our own changes whenever any other
  connection, in any process, commits (one local read, no round trip). It says nothing of which
  tables, so any such commit is :data:`EVERYTHING`. Commits made on that same connection do
  not change it: the process's group commits are written there (``Database.write_here``),
  naming the tables they wrote (``wrote``), so queuing a request empties only the caches that
  read its table.
- PostgreSQL: ``pg_current_snapshot()`` changes whenever a transaction of the server, in any
  database, that wrote anything ends. A statement-level trigger on every table of ours records
  each writing transaction's id and the table in ``table_writes`` (migration 0020), in that
  transaction: between two looks, the transactions that ended are those running (or not yet
  begun) at the first snapshot and over at the second; their rows in ``table_writes`` are the
  tables they wrote. A transaction with none wrote nothing of this database (another
  database's, or one rolled back). One round trip on a dedicated connection; concurrent
  requests share a poll that started after they arrived, so no request can miss a commit that
  happened before it began.

When a watcher cannot tell (connection lost, in-memory database, a look older than the
records kept) it reports :data:`EVERYTHING`, so the caches are dropped and reads go to the
database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote

from sqlalchemy import BigInteger, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db.base import Base, UTCDateTime

EVERYTHING: frozenset[str] = frozenset({"*"})  # a change the watcher cannot place: every table
NOTHING: frozenset[str] = frozenset()
# table_writes rows are kept until their transactions have been over this long (the expiry
# task deletes older ones); a watcher whose last look is older than RECORDS_TRUSTED_S cannot
# trust them to be all there
RECORDS_KEPT_S = 3600.0
RECORDS_TRUSTED_S = 1800.0


class TableWrite(Base):
    """A table written by a transaction, recorded by PostgreSQL's triggers (migration 0020);
    unused on SQLite. ``xid`` is the transaction's id (``pg_current_xact_id``); ``written_at``,
    when its transaction began, is only for people reading the table (pruning goes by ``xid``)."""

    __tablename__ = "table_writes"

    xid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    written_at: Mapped[Any] = mapped_column(UTCDateTime(), nullable=False, server_default=func.now())


class Snapshot(NamedTuple):
    """``pg_current_snapshot()``: transactions below ``xmin`` are over, those from ``xmax`` on
    not begun, and between them those in ``running`` still run."""

    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        xmin, xmax, running = text.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in running.split(",") if x))

    def over(self, xid: int) -> bool:
        return xid < self.xmax and xid not in self.running


class ChangeWatcher:
    """Base: never certain, so every poll reports a change (caching disabled)."""

    exact = False

    async def changed_tables(self) -> frozenset[str]:
        return EVERYTHING

    async def close(self) -> None:
        pass


class SQLiteDataVersionWatcher(ChangeWatcher):
    exact = True

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._own: frozenset[str] = NOTHING  # tables written on the connection since the last look
        self._written_by: dict[tuple[str, int], frozenset[str]] = {}  # tables_written, by statement

    def connection(self) -> sqlite3.Connection:
        """The connection polled, on which the event loop's thread also writes (``wrote``):
        it never waits for SQLite's write lock (a busy one is refused at once, the writer
        goes elsewhere) and never checkpoints the log itself (``Database.write_here``)."""
        if self._conn is None:
            # Used from the event loop's thread only, but it may be created before the loop runs.
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=0)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn = conn
        return self._conn

    def tables_written(self, sql: str, schema: int) -> frozenset[str]:
        """The tables a statement writes, the tables its triggers and foreign keys' actions write
        included, as SQLite itself compiles it: its authorizer is told of every table an INSERT,
        UPDATE or DELETE of the program touches (trigger bodies are compiled into it). Asked
        once per text and ``schema`` (``PRAGMA schema_version``, which a new trigger moves)."""
        found = self._written_by.get((sql, schema))
        if found is not None:
            return found
        tables: set[str] = set()

        def note(action: int, table: str | None, *_: object) -> int:
            if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE) and table:
                tables.add(table)
            return sqlite3.SQLITE_OK

        conn = self.connection()
        # a statement run against the database, which makes the connection load the schema
        # anew if another connection changed it (compiling alone uses the one in memory)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        conn.set_authorizer(note)
        try:
            # compiled, not run; its parameters left unbound: the driver refuses to run it once
            # compiled, which is all that is needed. The schema's version in the text, so that
            # the driver's cache of statements never hands back one compiled before (unseen by
            # the authorizer)
            conn.execute(f"EXPLAIN {sql} /* schema {schema} */")
        except sqlite3.ProgrammingError:
            pass
        finally:
            conn.set_authorizer(None)
        if not tables:
            raise ValueError(f"not a statement that writes: {sql[:80]}")
        if len(self._written_by) > 256:
            self._written_by.clear()  # texts of older schemas
        found = self._written_by[(sql, schema)] = frozenset(tables)
        return found

    def discard(self) -> None:
        """Close the connection at once (which rolls back what it holds); the next look reports
        every table, since commits of other connections meanwhile would go unseen."""
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover - already broken
                pass
            self._conn = None
        self._version = None
        self._own = NOTHING

    def wrote(self, tables: frozenset[str]) -> None:
        """A transaction on ``connection()`` committed writes to ``tables``: the next look
        names them (the version read there does not move for its own commits)."""
        self._own = self._own | tables

    async def changed_tables(self) -> frozenset[str]:
        own, self._own = self._own, NOTHING
        try:
            version = self.connection().execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            await self.close()
            return EVERYTHING
        if version != self._version:
            self._version = version
            return EVERYTHING
        return own

    async def close(self) -> None:
        self.discard()


# The server's snapshot now and, when $3, the records of the transactions that may have ended
# since the last look ($1: those running then, $2: its xmax) up to this snapshot's xmax: one
# round trip. The statement reads in this same snapshot, so the records it finds are those of
# transactions over in it.
_POLL = """SELECT s.snap::text AS snapshot, w.xid, w.table_name
FROM (SELECT pg_current_snapshot() AS snap) AS s
LEFT JOIN table_writes AS w
  ON $3 AND (w.xid = ANY($1::bigint[]) OR (w.xid >= $2 AND w.xid < pg_snapshot_xmax(s.snap)::text::bigint))"""


class PostgresSnapshotWatcher(ChangeWatcher):
    exact = True

    def __init__(self, dsn: str, connect: Callable | None = None) -> None:
        self._dsn = dsn
        self._connect = connect
        self._conn: Any = None  # an asyncpg connection (asyncpg ships no types)
        self._snapshot: str | None = None
        self._looked_at = 0.0  # time.monotonic() of the last look
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task | None = None
        # what polls found that no caller has taken yet: a poll goes on when every request
        # waiting for it is cancelled (its client gone), and what it found must still reach
        # the caches through the next caller
        self._untaken: frozenset[str] = NOTHING

    async def changed_tables(self) -> frozenset[str]:
        # Join the next poll; a poll already running may have started before we arrived.
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_task(self._next_poll())
        await asyncio.shield(self._pending)
        taken, self._untaken = self._untaken, NOTHING  # no await from here to the caches' emptying
        return taken

    async def _next_poll(self) -> None:
        async with self._lock:
            self._pending = None  # callers from now on need the poll after this one
            found = await self._poll()
            self._untaken = self._untaken | found

    async def _poll(self) -> frozenset[str]:
        import asyncpg

        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, timeout=5)
                self._snapshot = None
            # records older than those kept may be gone: a look that old cannot tell which tables
            first = (Snapshot.parse(self._snapshot) if self._snapshot is not None
                     and time.monotonic() - self._looked_at <= RECORDS_TRUSTED_S else None)
            # only those running at the first look or begun since can have ended in between (not
            # everything from its xmin on, which one long transaction would hold far back)
            rows = await self._conn.fetch(_POLL, sorted(first.running) if first else [], first.xmax if first else 0,
                                          first is not None, timeout=5)
        except Exception:
            await self.close()
            return EVERYTHING
        snapshot = rows[0]["snapshot"]
        self._looked_at = time.monotonic()
        if snapshot == self._snapshot:
            return NOTHING
        self._snapshot = snapshot
        if first is None:
            return EVERYTHING
        last = Snapshot.parse(snapshot)
        return frozenset(table for _, xid, table in rows if xid is not None and not first.over(xid) and last.over(xid))

    async def close(self) -> None:
        conn, self._conn, self._snapshot = self._conn, None, None
        if conn is not None:
            try:
                await conn.close(timeout=2)
            except Exception:  # pragma: no cover - already gone
                conn.terminate()


async def prune_table_writes(db, retention, now_s: float | None = None) -> dict[str, int]:
    """Delete the records of transactions that were all over ``retention.keep_s`` ago (a
    ``db.pruning.Retention`` of RECORDS_KEPT_S, noting the oldest transaction running at each
    call). SQLite keeps none."""
    if db.is_sqlite:
        return {"table_writes": 0}
    async with db.write() as session:
        position = (await session.execute(text(f"SELECT {db.sql.log_position_sql('table_writes')}"))).scalar_one()
        upto = retention.note(time.monotonic() if now_s is None else now_s, position)
        if upto is None:
            return {"table_writes": 0}
        result = await session.execute(text(f"DELETE FROM table_writes WHERE {db.sql.log_before_sql('upto')}"),
                                       {"upto": upto})
    return {"table_writes": result.rowcount or 0}


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
