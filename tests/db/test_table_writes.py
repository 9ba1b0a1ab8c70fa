"""PostgreSQL's change watcher names the tables each ended transaction wrote (db/changes.py,
migration 0020): the read caches keep what no commit touched, and commits of another database
of the same server, or rolled back, change nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

import cielo.models  # noqa: F401  (every table on the metadata)
from cielo.db import Base, Database, changes
from cielo.db.changes import EVERYTHING, NOTHING, PostgresSnapshotWatcher, prune_table_writes
from cielo.db.pruning import Retention
from tests.support.db import PG_ADMIN_URL, run

pytestmark = pytest.mark.postgres
UPSERT = "INSERT INTO promotion_changes_horizon (id, upto) VALUES (1, 5) ON CONFLICT (id) DO UPDATE SET upto = 5"


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def test_every_table_records_its_writes(pg_url):
    async def go():
        conn = await asyncpg.connect(_dsn(pg_url))
        try:
            return {row["relname"] for row in await conn.fetch(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = 'table_writes_record'")}
        finally:
            await conn.close()

    recorded = run(go())
    # a table added without the trigger (in its own migration) would keep caches stale
    assert recorded == set(Base.metadata.tables) - {"table_writes"}


def test_the_watcher_names_the_tables_written_and_nothing_else(pg_url):
    async def go():
        watcher = PostgresSnapshotWatcher(_dsn(pg_url))
        ours = await asyncpg.connect(_dsn(pg_url))
        other = await asyncpg.connect(_dsn(PG_ADMIN_URL.replace("+asyncpg", "")))
        seen = {}
        try:
            seen["first look"] = await watcher.changed_tables()
            seen["no commit"] = await watcher.changed_tables()
            await ours.execute(UPSERT)
            seen["a write"] = await watcher.changed_tables()
            async with ours.transaction():
                await ours.execute("UPDATE promotion_changes_horizon SET upto = 6")
                await ours.execute("INSERT INTO promotion_changes (promotion_id) VALUES (1)")
            seen["two tables"] = await watcher.changed_tables()
            await other.execute("CREATE TEMP TABLE elsewhere (x int); INSERT INTO elsewhere VALUES (1)")
            seen["another database"] = await watcher.changed_tables()
            transaction = ours.transaction()
            await transaction.start()
            await ours.execute("UPDATE promotion_changes_horizon SET upto = 7")
            seen["rolled back, while running"] = await watcher.changed_tables()
            await transaction.rollback()
            seen["rolled back"] = await watcher.changed_tables()
            # a transaction running at one look and committed before the next is named then
            late = ours.transaction()
            await late.start()
            await ours.execute("UPDATE promotion_changes_horizon SET upto = 8")
            await other.execute("INSERT INTO elsewhere VALUES (2)")  # the snapshot moves meanwhile
            seen["still running"] = await watcher.changed_tables()
            await late.commit()
            seen["committed late"] = await watcher.changed_tables()
        finally:
            await ours.close()
            await other.close()
            await watcher.close()
        return seen

    seen = run(go())
    assert seen["first look"] == EVERYTHING and seen["no commit"] == NOTHING
    assert seen["a write"] == {"promotion_changes_horizon"}
    assert seen["two tables"] == {"promotion_changes_horizon", "promotion_changes"}
    assert seen["another database"] == NOTHING
    assert seen["rolled back, while running"] == NOTHING and seen["rolled back"] == NOTHING
    assert seen["still running"] == NOTHING and seen["committed late"] == {"promotion_changes_horizon"}


def test_a_look_older_than_the_records_kept_empties_everything(pg_url, monkeypatch):
    async def go():
        watcher = PostgresSnapshotWatcher(_dsn(pg_url))
        ours = await asyncpg.connect(_dsn(pg_url))
        try:
            await watcher.changed_tables()
            monkeypatch.setattr(changes, "RECORDS_TRUSTED_S", 0.0)
            await asyncio.sleep(0.01)
            await ours.execute(UPSERT)
            return await watcher.changed_tables()
        finally:
            await ours.close()
            await watcher.close()

    assert run(go()) == EVERYTHING


def test_records_are_pruned_by_transaction_an_hour_after_they_ended(pg_url):
    async def go():
        db = Database(pg_url, pool_size=1)
        retention = Retention(changes.RECORDS_KEPT_S)
        conn = await asyncpg.connect(_dsn(pg_url))
        long = await asyncpg.connect(_dsn(pg_url))
        try:
            await conn.execute(UPSERT)  # over before the first look
            running = long.transaction()
            await running.start()  # a long transaction: begun before the first look, ended after it
            await long.execute("INSERT INTO promotion_changes (promotion_id) VALUES (1)")
            xid = await long.fetchval("SELECT pg_current_xact_id()::text::bigint")
            t0 = 1_000_000.0
            first = await prune_table_writes(db, retention, now_s=t0)  # notes where transactions stand
            await running.commit()
            early = await prune_table_writes(db, retention, now_s=t0 + 1800)
            late = await prune_table_writes(db, retention, now_s=t0 + 3601)  # the first look is an hour old
            kept = {row["table_name"] for row in await conn.fetch("SELECT table_name FROM table_writes WHERE xid >= $1",
                                                                  xid)}
            return first, early, late, kept
        finally:
            await conn.close()
            await long.close()
            await db.dispose()

    first, early, late, kept = run(go())
    assert first == {"table_writes": 0} and early == {"table_writes": 0}, "nothing is an hour past its end yet"
    assert late["table_writes"] >= 1, "what ended before the look of an hour ago is pruned"
    # the long transaction was still running at that look: its record stays, however long ago
    # it began, until a look an hour after its end
    assert "promotion_changes" in kept


def test_what_a_poll_finds_reaches_the_next_caller_when_its_own_callers_left(pg_url):
    async def go():
        watcher = PostgresSnapshotWatcher(_dsn(pg_url))
        ours = await asyncpg.connect(_dsn(pg_url))
        try:
            await watcher.changed_tables()
            await ours.execute(UPSERT)
            gone = asyncio.ensure_future(watcher.changed_tables())
            await asyncio.sleep(0)  # its poll has begun
            gone.cancel()  # the request's client left; the poll goes on
            await asyncio.sleep(0.3)
            return await watcher.changed_tables()
        finally:
            await ours.close()
            await watcher.close()

    assert run(go()) == {"promotion_changes_horizon"}, "the write is not lost with the request that polled"
