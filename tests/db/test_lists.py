"""insert_columns and db.sql.add_rows write exactly what SQLAlchemy's own insert writes: the
same values and, on SQLite (where a column holds any type and datetimes are text), the same
storage classes and the same text. On PostgreSQL add_rows sends its statement through asyncpg
itself (Database.driver), each column's bind processing applied by db/lists.py."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, BigInteger, Boolean, Column, Integer, MetaData, String, Table, Text, insert, text

from cielo.db import Database, UTCDateTime
from cielo.db.lists import insert_columns
from tests.support.db import run

ROWS = [
    {"id": 1, "n": 2**40, "s": "é \"quoted\" \\ ünïcode", "b": True, "at": datetime(2026, 3, 1, 3, tzinfo=timezone.utc),
     "t": None},
    {"id": 2, "n": 0, "s": "", "b": False, "at": datetime(2026, 3, 1, 3, 0, 0, 123456, tzinfo=timezone.utc), "t": "x"},
    {"id": 3, "n": -5, "s": "12", "b": False, "at": datetime(2000, 1, 1, tzinfo=timezone.utc), "t": "1.5"},
]


def _tables(metadata: MetaData, extra, suffix: str) -> list[Table]:
    return [Table(name + suffix, metadata, Column("id", Integer, primary_key=True), Column("n", BigInteger),
                  Column("s", String(100)), Column("b", Boolean), Column("at", UTCDateTime), Column("t", Text), *extra())
            for name in ("reference", "columns")]


def _stored(url: str, rows: list[dict], extra=tuple) -> tuple[list, list]:
    async def go():
        db = Database(url, pool_size=1)
        metadata = MetaData()
        reference, columns = _tables(metadata, extra, f"_{uuid.uuid4().hex[:8]}")
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(insert(reference), rows)
                await insert_columns(conn, columns, {k: [r[k] for r in rows] for k in rows[0]}, sqlite=db.is_sqlite)
                names = [c.name for c in reference.columns]
                seen = ", ".join(f"typeof({n}), {n}" for n in names) if db.is_sqlite else ", ".join(names)
                return [(await conn.execute(text(f"SELECT {seen} FROM {t.name} ORDER BY id"))).all()
                        for t in (reference, columns)]
        finally:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.drop_all)
            await db.dispose()

    return run(go())


def test_insert_columns_stores_what_sqlalchemy_stores(settings):
    reference, columns = _stored(settings.resolved_database_url, ROWS)
    assert columns == reference and len(reference) == 3


def test_add_rows_stores_what_sqlalchemy_stores(settings):
    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        metadata = MetaData()
        suffix = f"_{uuid.uuid4().hex[:8]}"
        reference, added = (Table(name + suffix, metadata, Column("id", Integer, primary_key=True), Column("n", BigInteger),
                                  Column("s", String(100)), Column("b", Boolean), Column("at", UTCDateTime),
                                  Column("t", Text), Column("j", JSON)) for name in ("reference", "added"))
        rows = [{**row, "j": [{"k": i, "é": None}] if i else None} for i, row in enumerate(ROWS)]
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(insert(reference), rows)
            columns = {k: [r[k] for r in rows if k != "id"] for k in rows[0] if k != "id"}
            ids = await db.sql.add_rows(added, columns, draw_ids=True)
            await db.sql.add_rows(added, {"id": [10], **{k: [v[0]] for k, v in columns.items()}})
            async with db.engine.connect() as conn:
                names = [c.name for c in reference.columns]
                seen = ", ".join(f"typeof({n}), {n}" for n in names) if db.is_sqlite else ", ".join(names)
                return ids, [(await conn.execute(text(f"SELECT {seen} FROM {t.name} ORDER BY id"))).all()
                             for t in (reference, added)]
        finally:
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.drop_all)
            await db.dispose()

    ids, (reference, added) = run(go())
    assert ids == [1, 2, 3] and len(reference) == 3
    assert added[:3] == reference
    after_id = 2 if settings.resolved_database_url.startswith("sqlite") else 1  # SQLite's rows begin typeof(id), id
    assert added[3][after_id:] == reference[0][after_id:], "a row written with its id given"


def test_sqlite_datetime_text_reads_back_as_the_utc_instant():
    from sqlalchemy.dialects.sqlite import aiosqlite

    process = UTCDateTime().result_processor(aiosqlite.dialect(), None)
    utc = timezone.utc
    assert process("2026-03-05 13:22:33.120000") == datetime(2026, 3, 5, 13, 22, 33, 120000, tzinfo=utc)
    assert process("2026-03-05 13:22:33") == datetime(2026, 3, 5, 13, 22, 33, tzinfo=utc)
    # text written with an offset (rows from before migration 0014, or by hand) keeps its instant
    assert process("2026-03-05 10:22:33-03:00") == datetime(2026, 3, 5, 13, 22, 33, tzinfo=utc)
    assert process("2026-03-05 13:22:33.120000+00:00").tzinfo is utc
    assert process(None) is None


@settings(max_examples=300, deadline=None)
@given(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.timezones()))
def test_sqlite_datetimes_are_written_in_the_dialects_own_text(moment):
    """UTCDateTime's own SQLite text is the dialect's, for every instant with any offset, and
    reads back as the same instant."""
    from sqlalchemy import DateTime
    from sqlalchemy.dialects.sqlite import aiosqlite

    dialect = aiosqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    try:
        utc = moment.astimezone(timezone.utc)
    except OverflowError:  # the offset pushes it off the calendar
        return
    assert ours(moment) == theirs(utc.replace(tzinfo=None))
    assert UTCDateTime().result_processor(dialect, None)(ours(moment)) == utc
