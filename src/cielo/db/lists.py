"""Long lists of ids as one bound parameter.

``column IN (...)`` with a thousand values makes SQLAlchemy render and name a thousand
parameters on every execution (measured: ~20 ms per batch of 1,000 transactions). A list is
sent instead as one value — a PostgreSQL array, or a JSON array that SQLite's json_each
turns into rows — and the statement's text stays the same whatever the length."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from sqlalchemy import Integer, String, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY


def among(col, values: Iterable, *, sqlite: bool, text_values: bool = False):
    """``col`` is one of ``values``."""
    values = list(values)
    if sqlite:
        each = select(literal_column("value")).select_from(func.json_each(bindparam(None, orjson.dumps(values).decode())))
        return col.in_(each.scalar_subquery())
    return col == any_(bindparam(None, values, type_=ARRAY(String if text_values else Integer)))


def pairs_table(pairs: list[tuple[int, int]], *, sqlite: bool):
    """A selectable of (a, b) rows from a list of integer pairs, to join on."""
    if sqlite:
        each = func.json_each(bindparam(None, orjson.dumps(pairs).decode())).table_valued("value")
        return select(func.json_extract(each.c.value, "$[0]").label("a"),
                      func.json_extract(each.c.value, "$[1]").label("b")).subquery("pairs")
    unnest = func.unnest(bindparam(None, [a for a, _ in pairs], type_=ARRAY(Integer)),
                         bindparam(None, [b for _, b in pairs], type_=ARRAY(Integer))).table_valued("a", "b").render_derived()
    return select(unnest.c.a, unnest.c.b).subquery("pairs")

