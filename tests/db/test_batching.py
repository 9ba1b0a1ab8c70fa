"""GroupWriter (db/batching.py): concurrent writes share transactions, each caller gets its own
result, and one bad item fails alone. Both databases."""

from __future__ import annotations

import asyncio

from sqlalchemy import Integer, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cielo.db import Database
from cielo.db.batching import GroupWriter
from tests.support.db import db_sql, run

class _Base(DeclarativeBase):
    pass


class Probe(_Base):
    __tablename__ = "group_writer_rows_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


PROBE = "CREATE TABLE IF NOT EXISTS group_writer_probe (id INTEGER PRIMARY KEY, value INTEGER NOT NULL CHECK (value >= 0))"


def test_concurrent_writes_share_transactions_and_a_bad_one_fails_alone(settings):
    db_sql(settings, PROBE)
    db_sql(settings, "DELETE FROM group_writer_probe")
    transactions: list[list[int]] = []

    async def write_many(session, values: list[int]) -> list[int]:
        transactions.append(values)
        for value in values:
            await session.execute(text("INSERT INTO group_writer_probe (id, value) VALUES (:v + 1000, :v)"), {"v": value})
        return [value * 10 for value in values]

    async def go():
        db = Database(settings.resolved_database_url, pool_size=2)
        writer = GroupWriter(db, write_many)
        try:
            alone = await writer.write(100)
            together = await asyncio.gather(*(writer.write(v) for v in range(40)))
            mixed = await asyncio.gather(*(writer.write(v) for v in [*range(40, 50), -1, *range(50, 60)]),
                                         return_exceptions=True)
            return alone, together, mixed
        finally:
            await db.dispose()

    try:
        alone, together, mixed = run(go())
        stored = sorted(value for (value,) in db_sql(settings, "SELECT value FROM group_writer_probe"))
    finally:
        db_sql(settings, "DROP TABLE group_writer_probe")  # the PostgreSQL database outlives the test
    assert alone == 1000 and transactions[0] == [100], "a write alone does not wait for others"
    assert together == [v * 10 for v in range(40)] and transactions[1] == list(range(40)), \
        "writes arriving together share one transaction"
    assert mixed[:10] == [v * 10 for v in range(40, 50)] and mixed[11:] == [v * 10 for v in range(50, 60)]
    assert isinstance(mixed[10], Exception) and "check" in str(mixed[10]).lower()
    assert stored == [*range(60), 100], "every good write committed once, the bad one not at all"


def test_adding_rows_commits_each_callers_row(settings):
    async def go():
        db = Database(settings.resolved_database_url, pool_size=2)
        writer = GroupWriter.adding_rows(db)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(_Base.metadata.create_all)
            return await asyncio.gather(*(writer.write(Probe(value=v)) for v in range(25)),
                                        writer.write(Probe(id=1000, value=1000)))
        finally:
            await db.dispose()

    try:
        rows = run(go())
        stored = dict(db_sql(settings, "SELECT id, value FROM group_writer_rows_probe"))
    finally:
        db_sql(settings, "DROP TABLE IF EXISTS group_writer_rows_probe")
    assert [row.value for row in rows] == [*range(25), 1000], "each caller gets its own row back"
    assert sorted(stored.values()) == [*range(25), 1000] and stored[1000] == 1000, \
        "every row committed once, an id given kept and the others drawn by the database"
