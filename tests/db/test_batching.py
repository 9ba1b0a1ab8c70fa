"""GroupWriter (db/batching.py): concurrent writes share transactions, each caller gets its own
result, and one bad item fails alone. Both databases."""

from __future__ import annotations

import asyncio
import random
from typing import NamedTuple

from sqlalchemy import Column, Integer, MetaData, String, Table, text
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


def _drop_probes(settings) -> None:
    # create_all made every probe of _Base; the PostgreSQL database outlives the test
    for table in _Base.metadata.tables:
        db_sql(settings, f"DROP TABLE IF EXISTS {table}")


PROBE = "CREATE TABLE IF NOT EXISTS group_writer_probe (id INTEGER PRIMARY KEY, value INTEGER NOT NULL CHECK (value >= 0))"


def test_concurrent_writes_share_transactions_and_a_bad_one_fails_alone(settings):
    db_sql(settings, PROBE)
    db_sql(settings, "DELETE FROM group_writer_probe")
    transactions: list[list[int]] = []

    async def go():
        db = Database(settings.resolved_database_url, pool_size=2)

        async def write_many(values: list[int]) -> list[int]:
            transactions.append(values)
            async with db.write() as session:
                for value in values:
                    await session.execute(text("INSERT INTO group_writer_probe (id, value) VALUES (:v + 1000, :v)"),
                                          {"v": value})
            return [value * 10 for value in values]

        writer = GroupWriter(write_many)
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


def _add_together(settings, rows: list, model: type | None = None) -> tuple[list, list[int]]:
    """The probes' tables created, then ``rows`` written by one adding_rows writer, all at once:
    each caller's result (or the exception its write raised), and the number of rows of each
    statement that reached the database."""
    async def go():
        db = Database(settings.resolved_database_url, pool_size=2)
        writer = GroupWriter.adding_rows(db, model)
        statements: list[int] = []
        add_rows = db.sql.add_rows

        async def counted(table, columns, **options):
            statements.append(len(next(iter(columns.values()))))
            return await add_rows(table, columns, **options)

        db.sql.add_rows = counted  # type: ignore[method-assign]
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(_Base.metadata.create_all)
            results = await asyncio.gather(*(writer.write(row) for row in rows), return_exceptions=True)
            return results, statements
        finally:
            await db.dispose()

    return run(go())


def test_adding_rows_commits_each_callers_row(settings):
    try:
        rows, _ = _add_together(settings, [*(Probe(value=v) for v in range(25)), Probe(id=1000, value=1000)])
        stored = dict(db_sql(settings, "SELECT id, value FROM group_writer_rows_probe"))
    finally:
        _drop_probes(settings)
    assert [row.value for row in rows] == [*range(25), 1000], "each caller gets its own row back"
    assert sorted(stored.values()) == [*range(25), 1000] and stored[1000] == 1000, \
        "every row committed once, an id given kept and the others drawn by the database"


class Defaulted(_Base):
    __tablename__ = "group_writer_defaults_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    doubled: Mapped[int] = mapped_column(Integer, default=lambda: 7)
    counted: Mapped[int] = mapped_column(Integer, server_default="3")
    note: Mapped[str | None] = mapped_column(String(10), nullable=True)


def test_adding_rows_applies_python_defaults_and_leaves_server_defaults_to_the_database(settings):
    try:
        # one batch: some rows give a nullable column, the others leave it NULL
        rows, statements = _add_together(settings, [Defaulted(value=v, note="n" if v % 2 else None) if v % 3
                                                    else Defaulted(value=v) for v in range(12)])
        stored = db_sql(settings, "SELECT value, doubled, counted, note FROM group_writer_defaults_probe ORDER BY value")
    finally:
        _drop_probes(settings)
    assert [tuple(row) for row in stored] == [(v, 7, 3, "n" if v % 3 and v % 2 else None) for v in range(12)]
    assert not any(isinstance(row, Exception) for row in rows) and statements == [12], "all in one statement"


class DefaultedValues(NamedTuple):
    value: int
    note: str | None


class Misspelt(NamedTuple):
    value: int
    note_: str | None


def test_adding_rows_takes_named_tuples_of_the_model_s_attributes(settings):
    try:
        rows, statements = _add_together(settings, [DefaultedValues(v, "n" if v % 2 else None) for v in range(12)],
                                         Defaulted)
        stored = db_sql(settings, "SELECT value, doubled, counted, note FROM group_writer_defaults_probe ORDER BY value")
        # a misspelt field in a batch of good rows: that caller refused, the others written one by one
        mixed, retried = _add_together(settings, [DefaultedValues(20, None), Misspelt(21, "x"),
                                                  DefaultedValues(22, "n")], Defaulted)
        after = [value for (value,) in db_sql(settings, "SELECT value FROM group_writer_defaults_probe ORDER BY value")]
    finally:
        _drop_probes(settings)
    assert rows == [DefaultedValues(v, "n" if v % 2 else None) for v in range(12)], "each caller gets its own row back"
    assert statements == [12], "the rows written in one statement"
    assert [tuple(row) for row in stored] == [(v, 7, 3, "n" if v % 2 else None) for v in range(12)], \
        "the Python default applied, the server default left to the database"
    assert mixed[0] == DefaultedValues(20, None) and mixed[2] == DefaultedValues(22, "n")
    assert isinstance(mixed[1], ValueError) and "note_" in str(mixed[1]), "a field the model lacks is refused"
    assert retried == [1, 1], "the batch refused whole, then its good rows written one at a time"
    assert after == [*range(12), 20, 22], "the refused row wrote nothing"


def test_add_rows_draws_ids_in_the_rows_order_and_a_failing_statement_writes_nothing(settings):
    serial = "INTEGER" if settings.resolved_database_url.startswith("sqlite") else "SERIAL"
    db_sql(settings, "DROP TABLE IF EXISTS group_writer_ids_probe")
    db_sql(settings, f"CREATE TABLE group_writer_ids_probe (id {serial} PRIMARY KEY, value INTEGER NOT NULL CHECK (value >= 0))")
    table = Table("group_writer_ids_probe", MetaData(), Column("id", Integer, primary_key=True), Column("value", Integer))

    async def go():
        db = Database(settings.resolved_database_url, pool_size=2)
        try:
            values = [random.randrange(1_000_000) for _ in range(300)]
            ids = await db.sql.add_rows(table, {"value": values}, draw_ids=True)
            again = await db.sql.add_rows(table, {"value": [1, 2]}, draw_ids=True)
            try:
                await db.sql.add_rows(table, {"value": [5, 6, -1, 7]}, draw_ids=True)  # the CHECK refuses -1
            except Exception as exc:
                refused: Exception | None = exc
            else:
                refused = None
            return values, ids, again, refused
        finally:
            await db.dispose()

    try:
        values, ids, again, refused = run(go())
        stored = dict(db_sql(settings, "SELECT id, value FROM group_writer_ids_probe"))
    finally:
        db_sql(settings, "DROP TABLE group_writer_ids_probe")
    assert ids is not None and len(set(ids)) == 300 and again is not None and not set(again) & set(ids)
    assert [stored[i] for i in ids] == values, "each id is its row's"
    assert [stored[i] for i in again] == [1, 2]
    assert refused is not None and "check" in str(refused).lower()
    assert len(stored) == 302, "a statement refused wrote none of its rows"


def test_a_cancelled_caller_s_item_is_still_written_and_the_others_answered():
    written: list[list[int]] = []
    release = asyncio.Event()

    async def write_many(values: list[int]) -> list[int]:
        await release.wait()
        written.append(values)
        return values

    async def go():
        writer = GroupWriter(write_many)
        first = asyncio.create_task(writer.write(1))  # its batch waits for the release
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(writer.write(v)) for v in (2, 3, 4)]
        await asyncio.sleep(0)
        waiting[1].cancel()  # the client of 3 gone while its item waits for the next batch
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(first, *waiting, return_exceptions=True)
        return results

    results = run(go())
    assert results[0] == 1 and results[1] == 2 and results[3] == 4
    assert isinstance(results[2], asyncio.CancelledError)
    assert written == [[1], [2, 3, 4]], "the cancelled caller's item is written with its batch"
