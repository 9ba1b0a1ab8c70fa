"""SQLite's group commits on the event loop's own connection (``Database.write_here``, used by
``db.sql.add_rows``): they name the tables they wrote, so the read caches of other tables stay;
another process holding the write lock sends them through aiosqlite's thread instead of
stalling the loop; a constraint violation is SQLAlchemy's IntegrityError; the log is
checkpointed off the loop."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, text
from sqlalchemy.exc import IntegrityError

from cielo.cache import CacheRegistry, ReadCache, RequestMarker, request_marker
from cielo.db import Database
from cielo.db import engine as engine_module
from tests.support.db import run

_META = MetaData()
PARENT = Table("write_here_parent", _META, Column("id", Integer, primary_key=True))
ROWS = Table("write_here_rows", _META, Column("id", Integer, primary_key=True),
             Column("parent_id", Integer, ForeignKey("write_here_parent.id")), Column("note", String(2000)))
COUNTED = Table("write_here_counted", _META, Column("id", Integer, primary_key=True), Column("n", Integer))


async def _database(tmp_path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'here.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(_META.create_all)
        await conn.execute(PARENT.insert(), [{"id": 1}])
        await conn.execute(COUNTED.insert(), [{"id": 1, "n": 0}])
        # a row noted 'count' bumps a counter of another table
        await conn.exec_driver_sql("CREATE TRIGGER write_here_count AFTER INSERT ON write_here_rows "
                                   "WHEN new.note = 'count' BEGIN UPDATE write_here_counted SET n = n + 1; END")
    return db


def _size(path: str) -> int:
    return os.path.getsize(path)


def _commit_elsewhere(db: Database, parent_id: int) -> None:
    """A commit of another connection, as another process makes one."""
    outsider = sqlite3.connect(db.watcher.path, isolation_level=None)  # type: ignore[attr-defined]
    outsider.execute("INSERT INTO write_here_parent (id) VALUES (?)", (parent_id,))
    outsider.close()


def _parents_cache(db: Database) -> tuple[CacheRegistry, ReadCache]:
    """A cache that reads the parents' table (not the one add_rows writes), and its registry."""
    registry = CacheRegistry(db.watcher)
    return registry, registry.cache("parents", tables=("write_here_parent",))


async def _kept(registry: CacheRegistry, cache: ReadCache) -> None:
    """A value in ``cache``, after the request's refresh."""
    await _refreshed(registry)
    cache.put("k", "v", cache.generation)


async def _refreshed(registry: CacheRegistry) -> None:
    """What a request's first lookup does: the caches that read what changed emptied."""
    request_marker.set(RequestMarker())
    await registry.refresh()


def test_a_group_commit_empties_only_the_caches_that_read_its_table(tmp_path):
    async def go():
        db = await _database(tmp_path)
        registry = CacheRegistry(db.watcher)
        other = registry.cache("other", tables=("write_here_parent",))
        same = registry.cache("same", tables=("write_here_rows",))
        any_table = registry.cache("any")
        kept = []
        try:
            await _refreshed(registry)
            for cache in (other, same, any_table):
                cache.put("k", "v", cache.generation)
            await db.sql.add_rows(ROWS, {"parent_id": [1, 1], "note": ["a", "b"]}, draw_ids=True)
            await _refreshed(registry)
            kept.append([cache.get("k") for cache in (other, same, any_table)])
            # a commit of another connection (another process) still says nothing of its tables
            for cache in (other, same, any_table):
                cache.put("k", "v", cache.generation)
            _commit_elsewhere(db, 2)
            await _refreshed(registry)
            kept.append([cache.get("k") for cache in (other, same, any_table)])
            return kept, await db.all(text("SELECT id, parent_id, note FROM write_here_rows ORDER BY id"))
        finally:
            await db.dispose()

    kept, rows = run(go())
    # before: the batch's commit (aiosqlite's connection) moved data_version, and every cache went
    assert kept[0] == ["v", None, None], "only the caches that read the written table (or any) are emptied"
    assert kept[1] == [None, None, None]
    assert [tuple(r) for r in rows] == [(1, 1, "a"), (2, 1, "b")]


def test_a_group_commit_hides_no_commit_of_another_connection(tmp_path):
    """Between two looks, another process commits and so does the loop's connection: every
    cache is emptied (the outsider's tables are unknown), not only those of the group commit."""
    async def go():
        db = await _database(tmp_path)
        registry, other = _parents_cache(db)
        try:
            await _kept(registry, other)
            _commit_elsewhere(db, 2)
            await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["a"]})
            await _refreshed(registry)
            return other.get("k")
        finally:
            await db.dispose()

    assert run(go()) is None


def test_the_tables_a_trigger_writes_are_named_too(tmp_path):
    async def go():
        db = await _database(tmp_path)
        registry = CacheRegistry(db.watcher)
        counted = registry.cache("counted", tables=("write_here_counted",))
        try:
            await _refreshed(registry)
            counted.put("n", 0, counted.generation)
            await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["count"]})
            await _refreshed(registry)
            return counted.get("n"), await db.scalar(text("SELECT n FROM write_here_counted"))
        finally:
            await db.dispose()

    assert run(go()) == (None, 1), "the trigger's table is named by the commit: its cache emptied"


def test_another_process_holding_the_write_lock_is_waited_for_off_the_loop(tmp_path):
    async def go():
        db = await _database(tmp_path)
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:  # another process's transaction, here a thread's own connection
            conn = sqlite3.connect(db.watcher.path, isolation_level=None)  # type: ignore[attr-defined]
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO write_here_parent (id) VALUES (3)")
            holding.set()
            release.wait(5)
            conn.execute("COMMIT")
            conn.close()

        holder = threading.Thread(target=hold)
        holder.start()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        try:
            await asyncio.to_thread(holding.wait, 5)
            ticker = asyncio.create_task(tick())
            writing = asyncio.create_task(db.sql.add_rows(ROWS, {"parent_id": [3], "note": ["after"]}, draw_ids=True))
            await asyncio.sleep(0.3)
            waited = not writing.done()
            ticks_meanwhile = ticks
            release.set()
            ids = await writing
            ticker.cancel()
            return waited, ticks_meanwhile, ids, await db.all(text("SELECT parent_id, note FROM write_here_rows"))
        finally:
            release.set()
            await asyncio.to_thread(holder.join)
            await db.dispose()

    waited, ticks, ids, rows = run(go())
    assert waited, "the write waits for the other transaction"
    assert ticks >= 10, "the event loop went on meanwhile (the lock is not waited for on its thread)"
    assert ids == [1] and [tuple(r) for r in rows] == [(3, "after")], "written once the lock was free"


def test_a_constraint_violation_is_an_integrity_error_and_writes_nothing(tmp_path):
    async def go():
        db = await _database(tmp_path)
        try:
            with pytest.raises(IntegrityError):
                await db.sql.add_rows(ROWS, {"parent_id": [1, 99], "note": ["ok", "no parent"]}, draw_ids=True)
            after = await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["next"]}, draw_ids=True)
            return after, await db.all(text("SELECT id, note FROM write_here_rows"))
        finally:
            await db.dispose()

    after, rows = run(go())
    assert after == [1] and [tuple(r) for r in rows] == [(1, "next")], "the batch rolled back whole; the next one writes"


def test_the_log_is_checkpointed_off_the_loop_and_stays_bounded(tmp_path, monkeypatch):
    """Commits back to back, a reader between them: the log is copied into the database on
    another thread, and started over rather than grown (a checkpoint beside a steady stream of
    commits never caught up with them: the log grew past all that was written)."""
    monkeypatch.setattr(engine_module, "CHECKPOINT_EVERY_S", 0.02)
    threads: list[int] = []
    checkpoint = engine_module.checkpoint_log

    def noted(path: str) -> None:
        threads.append(threading.get_ident())
        checkpoint(path)

    monkeypatch.setattr(engine_module, "checkpoint_log", noted)

    async def go():
        db = await _database(tmp_path)
        path = db.watcher.path  # type: ignore[attr-defined]
        largest_log = 0
        try:
            before = _size(path)
            # at least 12 MB and twenty checkpoints (ten rounds of two), however fast the
            # machine and however late the checkpoint's thread gets its turn
            for rounds in range(6000):
                if rounds >= 600 and len(threads) >= 20:
                    break
                await db.sql.add_rows(ROWS, {"parent_id": [1] * 50, "note": ["x" * 400] * 50})
                await db.first(text("SELECT count(*) FROM write_here_parent"))
                largest_log = max(largest_log, _size(path + "-wal"))
                await asyncio.sleep(0)
            written = await db.scalar(text("SELECT count(*) FROM write_here_rows")) * 400
            return before, _size(path), largest_log, written
        finally:
            await db.dispose()

    before, after, largest_log, written = run(go())
    assert threading.get_ident() not in threads and len(threads) >= 20, "checkpointed, on another thread than the loop's"
    assert after - before > written * 0.5, "what was written is in the database file, not only in the log"
    # the log holds what the commits between two checkpoints wrote, not all of it (without the
    # checkpoint in the write turn it outgrows all that was written)
    assert largest_log < written / 2, (written, largest_log)


def test_the_loop_s_connection_never_waits_nor_checkpoints_itself(tmp_path):
    async def go():
        db = await _database(tmp_path)
        try:
            conn = db.watcher.connection()  # type: ignore[attr-defined]
            return [conn.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("busy_timeout", "wal_autocheckpoint", "foreign_keys", "synchronous")]
        finally:
            await db.dispose()

    assert run(go()) == [0, 0, 1, 1]  # synchronous 1: NORMAL


def test_commits_go_on_while_checkpoints_run(tmp_path, monkeypatch):
    """Checkpoints take the write turn between commits: every batch is still written."""
    monkeypatch.setattr(engine_module, "CHECKPOINT_EVERY_S", 0.0)

    async def go():
        db = await _database(tmp_path)
        try:
            for round_ in range(30):
                await db.sql.add_rows(ROWS, {"parent_id": [1] * 50, "note": [f"{round_}" * 500] * 50})
            return await db.scalar(text("SELECT count(*) FROM write_here_rows"))
        finally:
            await db.dispose()

    assert run(go()) == 1500


def test_a_connection_busy_in_another_thread_sends_the_batch_through_aiosqlite(tmp_path):
    """The loop's connection held by another thread of the process (a second event loop):
    the batch is not interleaved with its statements but written through aiosqlite, whose
    commit says nothing of its tables (every cache is emptied)."""
    async def go():
        db = await _database(tmp_path)
        registry, other = _parents_cache(db)
        try:
            await _kept(registry, other)
            db._here.acquire()
            try:
                ids = await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["elsewhere"]}, draw_ids=True)
                with pytest.raises(IntegrityError):  # that way too, as SQLAlchemy's error
                    await db.sql.add_rows(ROWS, {"parent_id": [99], "note": ["no parent"]})
            finally:
                db._here.release()
            await _refreshed(registry)
            return ids, other.get("k")
        finally:
            await db.dispose()

    assert run(go()) == ([1], None)


def test_a_trigger_added_meanwhile_is_named_from_then_on(tmp_path):
    """A migration of another process adds a trigger while this one runs: the next commit of
    the same statement names the trigger's table too."""
    async def go():
        db = await _database(tmp_path)
        registry, parents = _parents_cache(db)
        try:
            await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["before"]})
            outsider = sqlite3.connect(db.watcher.path, isolation_level=None)  # type: ignore[attr-defined]
            outsider.execute("CREATE TRIGGER write_here_new AFTER INSERT ON write_here_rows "
                             "BEGIN INSERT OR IGNORE INTO write_here_parent (id) VALUES (new.id + 100); END")
            outsider.close()
            await _kept(registry, parents)  # the trigger's creation emptied every cache first
            await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["after"]})
            await _refreshed(registry)
            return parents.get("k")
        finally:
            await db.dispose()

    assert run(go()) is None, "the parents' cache emptied by the commit whose trigger wrote them"


def test_after_dispose_nothing_reopens_the_loop_s_connection(tmp_path):
    async def go():
        db = await _database(tmp_path)
        await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["open"]})
        await db.dispose()
        await db.sql.add_rows(ROWS, {"parent_id": [1], "note": ["after dispose"]})  # through aiosqlite
        reopened = db.watcher._conn is not None  # type: ignore[attr-defined]
        await db.engine.dispose()
        return reopened

    assert run(go()) is False
