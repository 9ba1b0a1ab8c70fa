"""The async engine and its sessions, tuned per database.

SQLite (the embedded default) runs in WAL mode with a busy timeout; transactions that write
start with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing when one
upgrades a read lock (SQLITE_BUSY_SNAPSHOT). PostgreSQL uses asyncpg with a pool.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, NullPool, Row, create_engine, event, func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from cielo.db.changes import ChangeWatcher, SQLiteDataVersionWatcher, watcher_for
from cielo.db.dialects import Dialect, dialect_for

log = logging.getLogger("cielo.db")
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL out of reach is answered, not waited for: a connection is made within these
# seconds or refused, a free one of the pool waited for as long (db.unavailable: a 503)
PG_CONNECT_TIMEOUT_S = 5
PG_POOL_TIMEOUT_S = 10
# SQLite: write_here's commits are checkpointed (the log copied into the database) this often
CHECKPOINT_EVERY_S = 1.0


_FILE_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)


def unavailable(exc: BaseException | None) -> bool:
    """Whether an error means the database is out of reach — refused or dropped connection, a
    timeout, the pool exhausted, PostgreSQL starting or shutting down, SQLite's lock held past
    the busy timeout or its file unusable — rather than a fault of the request or of the code
    (a wrong statement stays a 500 and is logged as one). Looks through the causes SQLAlchemy
    wraps drivers' errors in."""
    import asyncpg
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and not isinstance(exc, _FILE_ERRORS):
            return True  # refused, reset, unreachable, timed out (asyncio joins several into one OSError)
        if isinstance(exc, (sa_exc.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
                            asyncpg.AdminShutdownError, asyncpg.exceptions.ConnectionDoesNotExistError)):
            return True
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, sqlite3.OperationalError) and any(
                text in str(exc) for text in ("locked", "busy", "unable to open", "disk I/O", "disk is full")):
            return True
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "orig", None)
    return False


def _install_sqlite_hooks(engine: AsyncEngine | Engine) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver callback
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver callback
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "NONE":
            conn.exec_driver_sql(f"BEGIN {mode}")


def checkpoint_log(path: str) -> None:
    """SQLite: copy the write-ahead log into the database (on an executor's thread)."""
    # PASSIVE waits for no one; the timeout only bounds opening the file
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


class _Turn(asyncio.Lock):
    """The write lock of one process's SQLite writers, knowing which task holds it."""

    def __init__(self) -> None:
        super().__init__()
        self.holder: asyncio.Task | None = None


class Database:
    """Owns the engine; hands out sessions for reading and for writing."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False,
                 command_timeout: float | None = None) -> None:
        """``command_timeout``: the seconds a statement may take on PostgreSQL before it is
        abandoned (a server gone silent mid-statement); none for migrations and bulk loads."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite and ":///" in url and ":memory:" not in url:
            # The data directory holds the database and the keys: its owner only.
            Path(url.split(":///", 1)[1].split("?", 1)[0]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # no statement's values in an error's text (a traceback in the log would carry e-mail
        # addresses, names, digests): the statement alone says what failed
        kwargs: dict = {"echo": echo, "hide_parameters": True}
        if not self.is_sqlite:
            # No pre-ping (a round trip per checkout); stale connections are recycled instead.
            # No overflow: a connection opened past the pool's size was closed as soon as it came
            # back, so a steady load opened one (a handshake and asyncpg's type introspection)
            # for nearly every request; past the pool's size a request waits for a connection.
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_recycle=1800, pool_timeout=PG_POOL_TIMEOUT_S)
            if url.startswith("postgresql+asyncpg"):
                # No JIT: every statement here is short, and a batch's statement whose estimate
                # crosses jit_above_cost (1,000 pairs to probe) spent over ten times longer
                # compiling than running.
                kwargs["connect_args"] = {"server_settings": {"jit": "off"}, "timeout": PG_CONNECT_TIMEOUT_S,
                                          "command_timeout": command_timeout}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._loop_reader: Engine | None = None
        self._loop_conn: Connection | None = None
        # SQLite: this process's writers take turns here (one lock per event loop), see write()
        self._write_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turn] = weakref.WeakKeyDictionary()
        self._checkpointing: asyncio.Task | None = None  # write_here's checkpoint, while it runs
        self._checkpointed_at = 0.0
        self._here = threading.Lock()  # write_here's connection, in one thread at a time
        self._checkpointer: ThreadPoolExecutor | None = None  # the thread write_here's checkpoints run on
        self._disposed = False
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)
            self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if ":memory:" not in url:
                # Single-statement reads of the embedded database run on the event loop's own
                # thread, on one connection held open: in WAL mode a reader never waits for a
                # writer, and a point query there costs a small fraction of one through
                # aiosqlite's thread (about ten thread hops). Without BEGIN each
                # SELECT is its own snapshot of the latest commit. Writes stay on aiosqlite (but
                # the group commits, write_here, which never wait for the lock there),
                # since they may wait for the write lock. (docs/performance-history.md has figures.)
                self._loop_reader = create_engine(url.replace("+aiosqlite", ""), poolclass=NullPool)
                _install_sqlite_hooks(self._loop_reader)
        else:
            self._write_engine = self.engine
        # Single statements need no transaction around them: in autocommit a read is one
        # round trip, without asyncpg's BEGIN before it and the pool's ROLLBACK after it.
        self._single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)
        self._single_reader = async_sessionmaker(self._single, expire_on_commit=False)
        self._writer = async_sessionmaker(self._write_engine, expire_on_commit=False)
        self.watcher: ChangeWatcher = watcher_for(url)
        # where SQLite and PostgreSQL differ, the named operations domain services use
        self.sql: Dialect = dialect_for(self)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session:
            yield session

    async def first(self, statement, values: dict | None = None) -> Row | None:
        """The first row of one Core SELECT (with its bound values), or None."""
        if self._loop_reader is not None:
            return self._on_loop_thread(lambda conn: conn.execute(statement, values).first())
        async with self._single.connect() as conn:
            return (await conn.execute(statement, values)).first()

    async def first_entities(self, statement) -> Row | None:
        """The first row of one ORM SELECT, its entities detached (read as they are, never
        loading more), or None; read as single-statement reads are (``first``): on SQLite on
        the event loop's own connection, on PostgreSQL in one autocommit round trip (an ORM
        session of the pool would add BEGIN and ROLLBACK round trips; on SQLite, aiosqlite's
        thread hops)."""
        if self._loop_reader is not None:
            def read(conn: Connection) -> Row | None:
                with Session(bind=conn, expire_on_commit=False) as session:
                    row = session.execute(statement).first()
                    session.expunge_all()
                return row

            return self._on_loop_thread(read)
        async with self._single_reader() as session:
            row = (await session.execute(statement)).first()
            session.expunge_all()
            return row

    async def scalar(self, statement, values: dict | None = None):
        """The first column of the one row of an aggregate SELECT (a count)."""
        row = await self.first(statement, values)
        assert row is not None, "an aggregate SELECT returns one row"
        return row[0]

    async def all(self, statement, values: dict | None = None, *, heavy: bool = False) -> list[Row]:
        """Every row of one Core SELECT (with its bound values). A ``heavy`` one (milliseconds
        of work, such as a search over a wide radius) stays off the event loop's thread on
        SQLite: through aiosqlite the loop goes on serving other requests meanwhile."""
        if self._loop_reader is not None and not heavy:
            return self._on_loop_thread(lambda conn: conn.execute(statement, values).all())
        async with self._single.connect() as conn:
            return list((await conn.execute(statement, values)).all())

    async def page(self, statement, offset: int, limit: int) -> tuple[list[Row], int]:
        """One page of a Core SELECT (ordered by the caller) and the number of rows of the
        whole SELECT, read as single-statement reads are (``all``). The total comes with the
        page in one statement (``count(*) OVER ()`` is computed before LIMIT), so both are of
        one snapshot; only a page past the end needs a second statement for the total."""
        counted = statement.add_columns(func.count().over().label("_total")).offset(offset).limit(limit)
        rows = await self.all(counted)
        if rows:
            return rows, rows[0][-1]
        if offset == 0:
            return [], 0
        total = await self.first(select(func.count()).select_from(statement.order_by(None).subquery()))
        return [], total[0] if total is not None else 0

    async def rows_before_writes(self, session: AsyncSession | AsyncConnection, statement,
                                 values: dict | None = None) -> list[Row]:
        """Every row of one Core SELECT made in a ``write()`` transaction that has written
        nothing yet. On SQLite that transaction holds the database's write lock (BEGIN
        IMMEDIATE), so the last commit is exactly what it sees: the rows are read on the event
        loop's own connection, as single-statement reads are (through aiosqlite's thread a batch's
        history of ~2,600 purchases took more than twice as long).
        Elsewhere, and once the transaction has written, only its own session sees it."""
        if self._loop_reader is not None:
            if isinstance(session, AsyncSession):
                await session.connection()  # the transaction begun: the write lock is held
            return self._on_loop_thread(lambda conn: conn.execute(statement, values).all())
        return list((await session.execute(statement, values)).all())

    def _on_loop_thread(self, work):
        assert self._loop_reader is not None  # only called on SQLite, which has one
        try:
            if self._loop_conn is None:
                self._loop_conn = self._loop_reader.connect().execution_options(sqlite_begin="NONE")
            return work(self._loop_conn)
        except Exception:
            self._close_loop_conn()
            raise

    def _close_loop_conn(self) -> None:
        if self._loop_conn is not None:
            try:
                self._loop_conn.close()
            except Exception:  # pragma: no cover - already broken
                pass
            self._loop_conn = None

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose statements all read one snapshot: a read-only REPEATABLE READ
        transaction on PostgreSQL, a deferred transaction on SQLite (its first read fixes it)."""
        engine = self.engine if self.is_sqlite else self.engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        On SQLite, the writers of this process take turns on an asyncio lock before BEGIN
        IMMEDIATE. SQLite has one writer at a time anyway; without the lock, concurrent writers
        wait in its busy handler, which sleeps and polls (sleeps growing to 100 ms), so under
        load a write waited long after the lock was free and in no order. Writers of other
        processes still meet the busy timeout. A turn not given within that same timeout is
        answered as a locked database (a 503, ``unavailable``)."""
        if not self.is_sqlite:
            async with self._writer() as session, session.begin():
                yield session
            return
        async with self._write_turn(), self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside one write transaction, as ``write()`` opens it (SQLite's
        writers taking their turn), for writes that build no ORM objects."""
        if not self.is_sqlite:
            async with self._write_engine.begin() as conn:
                yield conn
            return
        async with self._write_turn(), self._write_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """PostgreSQL: one of the pool's connections as asyncpg's own ``Connection``, for a
        statement written in the driver's terms (``lists.driver_insert``). asyncpg begins no
        transaction: each statement commits by itself, in one round trip.

        Why not through SQLAlchemy's connection: for a group commit's one statement of arrays,
        checking out an ``AsyncConnection`` and executing through it cost more than twice the
        CPU of the statement itself on asyncpg (docs/performance-history.md); the
        statement's text and each column's bind processing are already settled once per table
        (``lists``), so nothing of that layer is needed here. The pool still owns the
        connection: it is given back, or discarded when it broke or a statement was cut off
        midway. A constraint violation is raised as SQLAlchemy's ``IntegrityError``, as
        through a session."""
        assert not self.is_sqlite, "SQLite's writes take their turn: write() or write_connection()"
        import asyncpg
        from sqlalchemy import exc as sa_exc

        pooled = await self.engine.raw_connection()
        conn = pooled.driver_connection
        try:
            yield conn
        except asyncpg.PostgresError as exc:  # the server refused the statement: the connection is sound
            pooled.close()
            if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
                raise sa_exc.IntegrityError(None, None, exc) from exc
            raise
        except BaseException:
            # cut off midway (cancelled, timed out, the server gone): not given to anyone again
            pooled.invalidate()
            raise
        else:
            pooled.close()

    async def write_here(self, statements: tuple[str, ...],
                         work: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
        """SQLite: ``work(connection)`` (statements of the driver's own, no await) in one write
        transaction on the event loop's own thread, in this process's turn; ``statements``: the
        text of each statement it writes with (the tables they write, their triggers' too, are
        what its commit names: ``SQLiteDataVersionWatcher.tables_written``). Returns ``(True,
        its result)`` once committed, or ``(False, None)`` with nothing done when it cannot be
        done here: another process holds the write lock (waiting for it would stall the loop;
        the caller writes through ``write_connection()``, which waits on aiosqlite's thread),
        another thread of this process is using the connection, or there is no such connection
        (in memory, PostgreSQL, disposed).

        Why: a group commit through aiosqlite crosses threads for BEGIN, INSERT and COMMIT, and
        its commit, made on another connection than the change watcher's, empties every read
        cache of the process. Made here, on the watcher's own connection, it names the tables it
        wrote (``SQLiteDataVersionWatcher.wrote``): queuing a request keeps the credentials and
        checks cached. The log is checkpointed off the loop (``_checkpoint_soon``): copying a
        thousand pages and syncing them takes milliseconds the loop must not spend.

        A constraint violation is raised as SQLAlchemy's ``IntegrityError``, as through a session."""
        watcher = self.watcher  # SQLite's of a file (not in memory): the connection written on
        if self._disposed or not isinstance(watcher, SQLiteDataVersionWatcher):
            return False, None
        from sqlalchemy import exc as sa_exc

        async with self._write_turn():
            # the turn is one event loop's; a second loop of the process (a test's thread) goes
            # the other way rather than interleave its statements on this connection
            if self._disposed or not self._here.acquire(blocking=False):
                return False, None
            try:
                conn = watcher.connection()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                        return False, None  # another process is writing
                    raise
                try:
                    # inside the transaction: the schema the statements run against (a
                    # migration of another process may have added a trigger since)
                    schema = conn.execute("PRAGMA schema_version").fetchone()[0]
                    tables = frozenset().union(*(watcher.tables_written(sql, schema) for sql in statements))
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException as exc:
                    try:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                    except BaseException:
                        # a connection that cannot roll back would hold the write lock: closed
                        # (which rolls back), the next look reports every table
                        watcher.discard()
                    if isinstance(exc, sqlite3.IntegrityError):
                        raise sa_exc.IntegrityError(None, None, exc) from exc
                    raise
                watcher.wrote(tables)
            finally:
                self._here.release()
        self._checkpoint_soon(watcher.path)
        return True, result

    def _checkpoint_soon(self, path: str) -> None:
        """Copy the write-ahead log of the database at ``path`` into it on a thread of its own, at
        most once per CHECKPOINT_EVERY_S while ``write_here`` commits (its connection does not
        checkpoint by itself). Twice: beside the commits, which copies the bulk, then in this
        process's write turn, which copies only what they added meanwhile: with no commit
        landing, the checkpoint catches up with the log, so the next writer starts the log over
        instead of growing it (checkpoints beside a steady stream of commits never caught up,
        and the log grew by hundreds of megabytes; one whole checkpoint in the turn held the
        writers up for its whole copy). PASSIVE: it waits for no reader, and stops where one
        still needs the log (the next one goes on)."""
        now = time.monotonic()
        if self._checkpointing is not None or self._disposed or now - self._checkpointed_at < CHECKPOINT_EVERY_S:
            return
        self._checkpointed_at = now

        if self._checkpointer is None:
            # a thread of its own: behind other work in the loop's shared executor, it would
            # hold the write turn while it waited
            self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
        executor = self._checkpointer

        async def checkpoint() -> None:
            try:
                loop = asyncio.get_running_loop()
                # the bulk beside the commits, then, in the turn, only what they added meanwhile
                await loop.run_in_executor(executor, checkpoint_log, path)
                async with self._write_turn():
                    await loop.run_in_executor(executor, checkpoint_log, path)
            except Exception as exc:
                # the next commit tries again; a log that cannot be checkpointed only grows
                log.warning("SQLite's log could not be checkpointed (%s); the next commit tries again",
                            type(exc).__name__)
            finally:
                self._checkpointing = None

        self._checkpointing = asyncio.get_running_loop().create_task(checkpoint())

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        turn = self._write_turns.get(loop)
        if turn is None:
            turn = self._write_turns[loop] = _Turn()
        if turn.holder is not None and turn.holder is asyncio.current_task():
            # it would wait for itself: SQLite allows one write transaction at a time
            raise RuntimeError("a write transaction was begun inside another one")
        try:
            await asyncio.wait_for(turn.acquire(), SQLITE_BUSY_TIMEOUT_MS / 1000)
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked: this process's writers waited past the busy "
                                           "timeout") from None
        turn.holder = asyncio.current_task()
        try:
            yield
        finally:
            turn.holder = None
            turn.release()

    async def analyze(self) -> None:
        """Refresh the planner's statistics (and PostgreSQL's visibility map) after a bulk load. Without them SQLite takes
        ``environment = ?`` for selective and scans a million establishments instead of
        starting from the R*Tree, over a hundred times slower."""
        async with self.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            # On PostgreSQL VACUUM also sets the visibility map, without which the covering
            # location index cannot answer a search by itself (index-only scans).
            await conn.exec_driver_sql("ANALYZE" if self.is_sqlite else "VACUUM ANALYZE")

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        self._disposed = True  # no write_here, no checkpoint from now on
        checkpointing = self._checkpointing
        if checkpointing is not None and checkpointing.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([checkpointing])
        if self._checkpointer is not None:
            self._checkpointer.shutdown(wait=False)
            self._checkpointer = None
        await self.watcher.close()
        self._close_loop_conn()
        await self.engine.dispose()
