"""Where SQLite and PostgreSQL differ, one named operation each.

Domain services read the same on both databases: they ask ``db.sql`` for a list as one bound
parameter, rows locked for update, the next ids, points inside boxes, where a change log
stands. Each operation below says what it means; the two classes say how each database does it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, Select, Table, and_, column, func, insert, or_, select, table, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cielo.db import lists

if TYPE_CHECKING:
    from cielo.db.engine import Database

Box = Sequence[Any]  # (lat0, lat1, lon0, lon1): values or bound parameters


class Dialect:
    """What every database offers; the subclasses fill in how."""

    sqlite = False

    def __init__(self, db: Database) -> None:
        self._db = db

    # ---- lists of values as one bound parameter (db/lists.py says why) ---------------------

    def among(self, col, values: Iterable, *, text_values: bool = False):
        """``col`` is one of ``values``."""
        return lists.among(col, values, sqlite=self.sqlite, text_values=text_values)

    def among_parameter(self, col, name: str, *, text_values: bool = False):
        """``among`` as a bound parameter called ``name``, for a statement built once."""
        return lists.among_parameter(col, name, sqlite=self.sqlite, text_values=text_values)

    def among_values(self, name: str, values: Iterable) -> dict:
        """The value of an ``among_parameter``."""
        return lists.among_values(name, values, sqlite=self.sqlite)

    def pairs_table(self, pairs: list[tuple[int, int]]):
        """A selectable of (a, b) rows from a list of pairs of ids, to join on."""
        return lists.pairs_table(pairs, sqlite=self.sqlite)

    def pairs_parameter(self, name: str):
        """``pairs_table`` as bound parameters named after ``name``, for a statement built once."""
        return lists.pairs_parameter(name, sqlite=self.sqlite)

    def pairs_values(self, name: str, pairs: list[tuple[int, int]]) -> dict:
        """The values of a ``pairs_parameter``."""
        return lists.pairs_values(name, pairs, sqlite=self.sqlite)

    async def insert_columns(self, conn, target: Table, columns: dict[str, list]) -> None:
        """Many rows, one list of values per column, written in one round trip."""
        await lists.insert_columns(conn, target, columns, sqlite=self.sqlite)

    async def add_rows(self, target: Table, columns: dict[str, list], *, draw_ids: bool = False) -> list[int] | None:
        """New rows of ``target`` (one list of values per column, all of one length) written
        and committed on their own: on PostgreSQL one statement that commits by itself (one
        round trip, no BEGIN or COMMIT); on SQLite one write transaction, in this process's
        turn. ``draw_ids``: each row's id drawn too, the ids given back in the rows' order."""
        raise NotImplementedError

    def rows_of_pairs(self, name: str, columns: Sequence, a, b, where, order_by: Sequence) -> Select:
        """``columns`` of the rows whose (``a``, ``b``) is one of the pairs bound as
        ``pairs_parameter(name)`` and that satisfy ``where``: each pair's rows together, in
        ``order_by``; each pair found through an index that leads with (a, b)."""
        raise NotImplementedError

    # ---- expressions ------------------------------------------------------------------------

    def least(self, *values):
        raise NotImplementedError

    def code_point_order(self, col):
        """``col`` (text) to sort by code point, the same order on both databases."""
        raise NotImplementedError

    def within_boxes(self, model, boxes: Sequence[Box], *, rtree: str) -> Select:
        """``SELECT model.id`` of the rows whose (latitude, longitude) fall inside any of the
        boxes, through the table's spatial index (on SQLite the R*Tree table ``rtree`` that
        triggers keep beside it; on PostgreSQL a B-tree on the two columns)."""
        raise NotImplementedError

    # ---- locks and ids inside a write transaction ---------------------------------------------

    def for_update(self, stmt: Select, *, skip_locked: bool = False, of=None) -> Select:
        """The rows ``stmt`` reads, held until the transaction ends (``skip_locked``: leave the
        ones another transaction holds)."""
        raise NotImplementedError

    async def lock_keys(self, session: AsyncSession, pairs: Iterable[tuple[int, int]] = (),
                        texts: Iterable[str] = ()) -> None:
        """Hold, until the transaction ends, one lock per pair of integers and per string:
        transactions naming the same key run one after the other. Taken in one order
        everywhere (texts first, then pairs; each sorted), so two never deadlock."""
        raise NotImplementedError

    async def reserve_ids(self, session: AsyncSession | AsyncConnection, target: Table, count: int) -> list[int]:
        """Ids for ``count`` new rows of ``target``, asked before the transaction writes."""
        raise NotImplementedError

    async def bulk_insert(self, target: Table, names: Sequence[str], rows: list[tuple],
                          json_columns: frozenset[str] = frozenset()) -> int:
        """Many rows (tuples of ``names``' values, JSON columns as JSON text) in one
        transaction, with consecutive ids; returns the first."""
        raise NotImplementedError

    def insert_unless_present(self, target: Table, values: dict, keys: Sequence[str]) -> Insert:
        """An INSERT of one row that does nothing when a row with the same ``keys`` (a unique
        constraint's columns) is there already, even one a concurrent transaction has just
        written: no unique violation to recover from."""
        raise NotImplementedError

    async def write_beside(self, session: AsyncSession, write: Coroutine[Any, Any, None]) -> Awaitable[None]:
        """Start a write transaction's ``write``; returns what is left of it to await after the
        Python work (building the answer) that may run beside the database meanwhile."""
        raise NotImplementedError

    # ---- change logs written by triggers (promotion_changes) ---------------------------------

    def log_position_sql(self, log: str) -> str:
        """SQL for where the change log ``log`` stands, in the statement's snapshot."""
        raise NotImplementedError

    def log_after_sql(self, parameter: str) -> str:
        """SQL condition: the log row was written after the position ``:parameter``."""
        raise NotImplementedError

    def log_before_sql(self, parameter: str) -> str:
        """SQL condition: the log row was written before the position ``:parameter`` (to forget)."""
        raise NotImplementedError


class SQLiteDialect(Dialect):
    sqlite = True

    def least(self, *values):
        return func.min(*values)  # SQLite's scalar min() of several arguments

    def code_point_order(self, col):
        return col  # SQLite compares text by its bytes (UTF-8 keeps the code points' order)

    def within_boxes(self, model, boxes: Sequence[Box], *, rtree: str) -> Select:
        index = table(rtree, column("id"), column("min_lat"), column("max_lat"),
                      column("min_lon"), column("max_lon"))
        inside = or_(*[and_(index.c.max_lat >= lat0, index.c.min_lat <= lat1,
                            index.c.max_lon >= lon0, index.c.min_lon <= lon1) for lat0, lat1, lon0, lon1 in boxes])
        # Materialised first, so SQLite's planner starts from the R*Tree and never probes it
        # once per row of another table.
        box_ids = select(index.c.id).where(inside).cte("box_ids").prefix_with("MATERIALIZED")
        return select(model.id).select_from(box_ids).join(model, model.id == box_ids.c.id)

    def rows_of_pairs(self, name, columns, a, b, where, order_by) -> Select:
        # the pairs (one JSON parameter) drive the join, each probing the index (a row-value IN
        # list made SQLite scan the whole table)
        wanted = self.pairs_parameter(name)
        return (select(*columns).select_from(wanted).join(a.table, and_(a == wanted.c.a, b == wanted.c.b))
                .where(where).order_by(a, b, *order_by))

    def for_update(self, stmt: Select, *, skip_locked: bool = False, of=None) -> Select:
        return stmt  # a write transaction holds the single write lock (BEGIN IMMEDIATE) already

    async def lock_keys(self, session, pairs=(), texts=()) -> None:
        return  # the single writer serialises every write transaction already

    async def add_rows(self, target, columns, *, draw_ids=False):
        count = len(next(iter(columns.values())))
        dialect = self._db.engine.dialect
        sql = lists.sqlite_insert_text(dialect, target, ("id", *columns) if draw_ids else tuple(columns))

        def write(conn) -> list[int] | None:
            """On a DB-API connection inside BEGIN IMMEDIATE: sqlite3's own (write_here), or
            aiosqlite's adapter under run_sync (its cursor runs the statements in turn)."""
            cursor = conn.cursor()
            ids = None
            rows = columns
            if draw_ids:
                # the next ones after the largest: this transaction holds the single write lock
                cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {dialect.identifier_preparer.quote(target.name)}")
                first = cursor.fetchone()[0]
                ids = list(range(first, first + count))
                rows = {"id": ids, **columns}
            cursor.executemany(*lists.sqlite_insert(dialect, target, rows))
            cursor.close()
            return ids

        # on the event loop's own connection when the write lock is free (Database.write_here);
        # else through aiosqlite, which waits for it
        done, drawn = await self._db.write_here((sql,), write)
        if done:
            return drawn
        async with self._db.write_connection() as conn:
            try:
                return await conn.run_sync(lambda sync: write(sync.connection.dbapi_connection))
            except sqlite3.IntegrityError as exc:  # the driver's own, as write_here raises it
                raise IntegrityError(None, None, exc) from exc

    async def reserve_ids(self, session, target: Table, count: int) -> list[int]:
        # the next ones after the largest: this transaction holds the single write lock
        largest = await self._db.rows_before_writes(session, select(func.coalesce(func.max(target.c.id), 0)))
        first = largest[0][0] + 1
        return list(range(first, first + count))

    async def bulk_insert(self, target, names, rows, json_columns=frozenset()) -> int:
        import orjson

        async with self._db.write() as session:
            first = (await session.execute(select(func.coalesce(func.max(target.c.id), 0)))).scalar_one() + 1
            await session.execute(insert(target), [
                {c: (orjson.loads(v) if c in json_columns else v) for c, v in zip(names, row, strict=True)}
                for row in rows])
        return first  # rowids of one insert under the single writer are consecutive

    def insert_unless_present(self, target, values, keys) -> Insert:
        return sqlite.insert(target).values(**values).on_conflict_do_nothing(index_elements=list(keys))

    async def write_beside(self, session, write: Coroutine[Any, Any, None]) -> Awaitable[None]:
        # Not beside SQLite's write: its executemany takes the GIL back to bind every row, so
        # Python work beside it stalls the write by up to the interpreter's switch interval per
        # row. Beside the commit instead: one step of SQLite's C code, without the GIL.
        await write
        return session.commit()

    def log_position_sql(self, log: str) -> str:
        return f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{log}'), 0)"

    def log_after_sql(self, parameter: str) -> str:
        return f"seq > :{parameter}"

    def log_before_sql(self, parameter: str) -> str:
        return f"seq <= :{parameter}"


class PostgresDialect(Dialect):
    def least(self, *values):
        return func.least(*values)

    def code_point_order(self, col):
        return col.collate("C")  # the database's default collation sorts by language rules

    def within_boxes(self, model, boxes: Sequence[Box], *, rtree: str) -> Select:
        return select(model.id).where(or_(*[and_(model.latitude.between(lat0, lat1), model.longitude.between(lon0, lon1))
                                            for lat0, lat1, lon0, lon1 in boxes]))

    def rows_of_pairs(self, name, columns, a, b, where, order_by) -> Select:
        # the pairs as one array parameter, each probing the index. OFFSET 0 keeps the LATERAL
        # subquery from being pulled up into a join, which the planner made a hash join over a
        # scan of the whole table (growing with it, where the probes stay constant)
        wanted = self.pairs_parameter(name)
        each = (select(*columns).where(a == wanted.c.a, b == wanted.c.b, where)
                .order_by(*order_by).offset(0).lateral("each_pair"))
        return select(each).select_from(wanted).join(each, true())

    def for_update(self, stmt: Select, *, skip_locked: bool = False, of=None) -> Select:
        return stmt.with_for_update(skip_locked=skip_locked, of=of)

    async def lock_keys(self, session, pairs=(), texts=()) -> None:
        # transaction-scoped advisory locks, one round trip for each kind, taken in one order
        texts = sorted(set(texts))
        if texts:
            await session.execute(text(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM (SELECT k FROM unnest(CAST(:keys AS text[])) "
                "AS t(k) ORDER BY k) AS ordered"), {"keys": texts})
        ordered = sorted(set(pairs))
        if ordered:
            await session.execute(text(
                "SELECT pg_advisory_xact_lock(h, e) FROM (SELECT h, e FROM unnest(CAST(:hs AS integer[]), "
                "CAST(:es AS integer[])) AS t(h, e) ORDER BY h, e) AS ordered"),
                {"hs": [h for h, _ in ordered], "es": [e for _, e in ordered]})

    async def add_rows(self, target, columns, *, draw_ids=False):
        # in the driver's own terms (Database.driver says why): one statement that commits by itself
        sql, values = lists.driver_insert(self._db.engine.dialect, target, columns, draw_ids=draw_ids)
        async with self._db.driver() as conn:
            ids = await conn.fetchval(sql, *values)
        return list(ids) if draw_ids else None

    async def reserve_ids(self, session, target: Table, count: int) -> list[int]:
        # drawn from the sequence, as one array in one row (a thousand rows cost more to decode)
        return (await session.execute(
            text(f"SELECT array_agg(nextval(pg_get_serial_sequence('{target.name}', 'id'))) "
                 "FROM generate_series(1, :n)"), {"n": count})).scalar_one()

    async def bulk_insert(self, target, names, rows, json_columns=frozenset()) -> int:
        name = target.name
        async with self._db.engine.begin() as conn:
            # the table locked, so the ids drawn are consecutive; COPY is the fastest way in
            await conn.execute(text(f"LOCK TABLE {name} IN EXCLUSIVE MODE"))
            start = (await conn.execute(select(func.coalesce(func.max(target.c.id), 0)))).scalar_one() + 1
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :v, false)"), {"v": start})
            raw = await conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(name, records=rows, columns=list(names))  # type: ignore[union-attr]
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :v, false)"),
                               {"v": start + len(rows)})
        return start

    def insert_unless_present(self, target, values, keys) -> Insert:
        return postgresql.insert(target).values(**values).on_conflict_do_nothing(index_elements=list(keys))

    async def write_beside(self, session, write: Coroutine[Any, Any, None]) -> Awaitable[None]:
        return write  # the server writes while this process builds the answer

    def log_position_sql(self, log: str) -> str:
        # the oldest transaction still running when the snapshot was taken: every log row of a
        # transaction below it is committed (db/changes.py and promotions/index.py say more)
        return "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"

    def log_after_sql(self, parameter: str) -> str:
        return f"xid >= :{parameter}"

    def log_before_sql(self, parameter: str) -> str:
        return f"xid < :{parameter}"


def dialect_for(db: Database) -> Dialect:
    return SQLiteDialect(db) if db.is_sqlite else PostgresDialect(db)
