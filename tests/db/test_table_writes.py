"""PostgreSQL's change watcher names the tables each ended transaction wrote (db/changes.py,
migration 0020): the read caches keep what no commit touched, and commits of another database
of the same server, or rolled back, change nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

import cielo.models  # noqa: F401  (every table on the metadata)
from cielo.db import Base, Database, utcnow
from cielo.db.changes import EVERYTHING, NOTHING, PostgresSnapshotWatcher, prune_table_writes
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
    from cielo.db import changes

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


def test_records_are_pruned_once_kept_long_enough(pg_url):
    async def go():
        db = Database(pg_url, pool_size=1)
        conn = await asyncpg.connect(_dsn(pg_url))
        try:
            await conn.execute(UPSERT)
            before = await conn.fetchval("SELECT count(*) FROM table_writes")
            kept = await prune_table_writes(db)
            pruned = await prune_table_writes(db, utcnow() + timedelta(hours=2))
            after = await conn.fetchval("SELECT count(*) FROM table_writes")
            return before, kept, pruned, after
        finally:
            await conn.close()
            await db.dispose()

    before, kept, pruned, after = run(go())
    assert before >= 1 and kept == {"table_writes": 0}
    assert pruned["table_writes"] >= before and after <= 1, "only the prune's own record may be left"
