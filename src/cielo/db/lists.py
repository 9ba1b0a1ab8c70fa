"""Long lists of ids as one bound parameter.

``column IN (...)`` with a thousand values makes SQLAlchemy render and name a thousand
parameters on every execution, a large part of a big batch's cost (figures in
docs/performance-history.md). A list is sent instead as one value — a PostgreSQL array, or a
JSON array that SQLite's json_each turns into rows — and the statement's text stays the same
whatever the length. Many rows are written the same way: one array per column
(``insert_columns``)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import orjson
from sqlalchemy import (
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY


def among(col, values: Iterable, *, sqlite: bool, text_values: bool = False):
    """``col`` is one of ``values``."""
    value = among_values("among", values, sqlite=sqlite)["among"]
    return _among(col, bindparam(None, value, type_=_list_type(sqlite, text_values)), sqlite=sqlite)


def among_parameter(col, name: str, *, sqlite: bool, text_values: bool = False):
    """``among`` as a bound parameter called ``name``, for a statement built once;
    ``among_values`` gives its value."""
    return _among(col, bindparam(name, type_=_list_type(sqlite, text_values)), sqlite=sqlite)


def _list_type(sqlite: bool, text_values: bool):
    return String if sqlite else ARRAY(String if text_values else Integer)


def _among(col, parameter, *, sqlite: bool):
    if sqlite:  # the JSON array's elements as rows
        return col.in_(select(literal_column("value")).select_from(func.json_each(parameter)).scalar_subquery())
    return col == any_(parameter)


def among_values(name: str, values: Iterable, *, sqlite: bool) -> dict:
    values = list(values)
    return {name: orjson.dumps(values).decode() if sqlite else values}


def pairs_table(pairs: list[tuple[int, int]], *, sqlite: bool):
    """A selectable of (a, b) rows from a list of pairs of ids (0 ≤ id < 2³¹), to join on."""
    return _pairs_select("pairs", sqlite=sqlite).params(pairs_values("pairs", pairs, sqlite=sqlite)).subquery("pairs")


def pairs_parameter(name: str, *, sqlite: bool):
    """``pairs_table`` as bound parameters named after ``name``, for a statement built once;
    ``pairs_values`` gives their values."""
    return _pairs_select(name, sqlite=sqlite).subquery("pairs")


def pairs_values(name: str, pairs: list[tuple[int, int]], *, sqlite: bool) -> dict:
    if sqlite:
        # each pair packed into one 64-bit integer (a·2³² + b), split by two integer operations
        # in the statement: two json_extract calls per pair were some 40% of a probe's cost
        return {name: orjson.dumps([(a << 32) | b for a, b in pairs]).decode()}
    return {f"{name}_a": [a for a, _ in pairs], f"{name}_b": [b for _, b in pairs]}


def _pairs_select(name: str, *, sqlite: bool):
    if sqlite:
        each = func.json_each(bindparam(name, type_=String)).table_valued("value")
        return select(each.c.value.op(">>")(32).label("a"), each.c.value.op("&")(0xFFFFFFFF).label("b"))
    unnest = func.unnest(bindparam(f"{name}_a", type_=ARRAY(Integer)),
                         bindparam(f"{name}_b", type_=ARRAY(Integer))).table_valued("a", "b").render_derived()
    return select(unnest.c.a, unnest.c.b)


async def insert_columns(conn, table: Table, columns: dict[str, list], *, sqlite: bool) -> None:
    """Write many rows, given as one list of values per column (all of one length), in one
    round trip. On PostgreSQL one ``INSERT … SELECT FROM unnest(one array per column)``:
    asyncpg's executemany binds and executes the statement once per row (a batch's ~1,900
    rewards took half as long again that way as in one statement). On SQLite the
    driver's executemany of plain tuples, each column's bind processing applied once per
    value (SQLAlchemy's own executemany spent as long building a row's parameters as writing
    it)."""
    names = tuple(columns)
    if not names or not columns[names[0]]:
        return
    if sqlite:
        await conn.exec_driver_sql(*sqlite_insert(conn.dialect, table, columns))
        return
    # the statement add_rows sends through asyncpg, here inside the caller's transaction
    sql, values = driver_insert(conn.dialect, table, columns, draw_ids=False)
    await conn.exec_driver_sql(sql, tuple(values))


def driver_insert(dialect, table: Table, columns: dict[str, list], *, draw_ids: bool) -> tuple[str, list]:
    """PostgreSQL: ``insert_columns``'s statement as asyncpg itself takes it (``$n`` placeholders,
    one array per column, each column's bind processing applied here), sent inside a transaction
    (``insert_columns``) or on its own through ``Database.driver()`` (``add_rows``). With
    ``draw_ids`` the statement also draws each row's id from the table's sequence and answers
    the ids as one array in the rows' order (an INSERT's RETURNING has no order SQL promises,
    so the ids are drawn first, numbered, and joined to the numbered rows)."""
    names = tuple(columns)
    sql, processors = _driver_insert(dialect, table, names, draw_ids)
    return sql, [values if process is None else _processed(values, process)
                 for values, process in zip(columns.values(), processors, strict=True)]


@lru_cache(maxsize=64)  # one statement per table and set of columns (asyncpg prepares it once)
def _driver_insert(dialect, table: Table, names: tuple[str, ...], draw_ids: bool) -> tuple[str, list]:
    quote = dialect.identifier_preparer.quote
    arrays = [f"${at}::{ARRAY(table.c[name].type).compile(dialect=dialect)}" for at, name in enumerate(names, 1)]
    into, listed = quote(table.name), ", ".join(quote(name) for name in names)
    if draw_ids:
        assert "ordinal_" not in names, "the statement numbers the rows in a column of that name"
        sql = (f"WITH ids AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('{into}', 'id')) AS id, "
               f"ordinal_ FROM generate_series(1, cardinality({arrays[0]})) AS ordinal_), "
               f"written AS (INSERT INTO {into} (id, {listed}) SELECT ids.id, "
               f"{', '.join(f'many.{quote(n)}' for n in names)} FROM unnest({', '.join(arrays)}) WITH ORDINALITY "
               f"AS many({listed}, ordinal_) JOIN ids USING (ordinal_)) "
               "SELECT array_agg(id ORDER BY ordinal_) FROM ids")
    else:
        sql = f"INSERT INTO {into} ({listed}) SELECT * FROM unnest({', '.join(arrays)})"
    # the type as the dialect adapts it, as SQLAlchemy's own statements bind it (_sqlite_insert)
    return sql, [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]


def _processed(values: list, process) -> list:
    """The column's bind processor over its values, once per run of the same value (a
    batch's rewards share one earned_at)."""
    out, last, last_out = [], _NOTHING, None
    for value in values:
        if value is not last:
            last, last_out = value, process(value)
        out.append(last_out)
    return out


_NOTHING = object()


def sqlite_insert(dialect, table: Table, columns: dict[str, list]) -> tuple[str, list[tuple]]:
    """SQLite: ``insert_columns``'s statement as the driver takes it, and its rows (tuples,
    each column's bind processing applied here), for the driver's executemany: inside a
    transaction of SQLAlchemy's (``insert_columns``) or on the event loop's own connection
    (``Database.write_here``, for ``add_rows``)."""
    sql, processors = _sqlite_insert(dialect, table, tuple(columns))
    processed = [values if process is None else _processed(values, process)
                 for values, process in zip(columns.values(), processors, strict=True)]
    return sql, list(zip(*processed, strict=True))


def sqlite_insert_text(dialect, table: Table, names: tuple[str, ...]) -> str:
    """The text of ``sqlite_insert``'s statement for these columns."""
    return _sqlite_insert(dialect, table, names)[0]


@lru_cache(maxsize=64)  # one statement per table and set of columns
def _sqlite_insert(dialect, table: Table, names: tuple[str, ...]) -> tuple[str, list]:
    quote = dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    # the type as the dialect adapts it: a TypeDecorator's own bind_processor() applies its
    # impl unadapted, which on SQLite left datetimes to the driver's adapter (another text
    # format than every other write's, so comparisons and ordering could disagree)
    return sql, [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
