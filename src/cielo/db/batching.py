"""Group commit: the small writes of many concurrent requests in one transaction.

A request that only adds a row (a subscription request) spends nearly all its time in the
transaction around it — on SQLite, whose single writer serialises every transaction, in
aiosqlite's thread hops; on PostgreSQL in round trips and the commit's flush. Requests that
arrive while one transaction runs are written together by the next one, so the number of
transactions follows the database's pace, not the number of requests, and a request alone is
written at once (nothing waits for a batch to fill). Neither SQLAlchemy nor the drivers offer
this across sessions, hence this small class.

A batch that fails is written again one item at a time, so one bad item never fails the
others: each caller gets its own result or its own error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, inspect
from sqlalchemy.orm import Mapper

from cielo.db.engine import Database

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """Writes items with ``write_many(items) -> results`` (one result per item, in order; one
    commit of its own, such as ``db.sql.add_rows``), many callers' items in one call."""

    def __init__(self, write_many: Callable[[list[Item]], Awaitable[list[Result]]], *, max_batch: int = 500) -> None:
        self._write_many = write_many
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writing: asyncio.Task | None = None

    @classmethod
    def adding_rows(cls, db: Database, model: type | None = None, *, max_batch: int = 500) -> GroupWriter[Any, Any]:
        """A writer of new rows of one ORM class: ``await writer.write(row)`` inserts the row with
        the others waiting, and gives it back once committed, as it was built (its id, when the
        database draws it, is not read back). A row is an instance of the class, or a NamedTuple
        of some of its column attributes when ``model`` names the class: a request that only
        adds a row then skips the ORM's instrumented constructor, which cost it more than its
        share of the write. Every field of a NamedTuple counts as given (a field's own default
        too, where an attribute left unset on an instance takes the column's default)."""

        async def add(rows: list[Any]) -> list[Any]:
            mapper: Mapper[Any] = inspect(model if model is not None else type(rows[0]))
            table = mapper.local_table
            assert isinstance(table, Table)  # a model of one table
            await db.sql.add_rows(table, _columns_of(mapper, rows))
            return rows

        return cls(add, max_batch=max_batch)

    async def write(self, item: Item) -> Result:
        """Write ``item`` (with whatever else is waiting) and return its result once committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # an error of a request whose client left is not "unretrieved"
        self._pending.append((item, future))
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._drain())
        # the write goes on if this request is cancelled (its client gone; its future cancelled
        # with it): the drain task commits or refuses it like any other, only unanswered
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                try:
                    results = await self._write_many([item for item, _ in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], error=exc)
                    else:
                        await self._one_by_one(batch)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result=result)
        finally:
            self._writing = None

    async def _one_by_one(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        for item, future in batch:
            try:
                (result,) = await self._write_many([item])
            except Exception as exc:
                _settle(future, error=exc)
            else:
                _settle(future, result=result)


def _columns_of(mapper: Mapper, rows: list[Any]) -> dict[str, list]:
    """The rows' values, one list per column: each column some row was given, and each with a
    default computed here (SQLAlchemy applies a column's Python default only to the statements
    it builds itself); a column none was given and without such a default is left to the
    database (its server default, or NULL)."""
    # each row a NamedTuple or an instance of the class, whatever the others are
    given = [row._asdict() if hasattr(row, "_fields") else vars(row) for row in rows]
    name = mapper.persist_selectable.description
    known = mapper.column_attrs.keys()
    for fields in {row._fields for row in rows if hasattr(row, "_fields")}:  # one check per NamedTuple class
        if unknown := set(fields).difference(known):
            raise ValueError(f"{name}: no column for {', '.join(sorted(unknown))}")  # a misspelt field would be lost
    columns: dict[str, list] = {}
    for attr in mapper.column_attrs:
        col, key = attr.columns[0], attr.key
        default = col.default
        if default is not None and not (default.is_scalar or default.is_callable):
            raise ValueError(f"{name}.{col.name}: only a value or a function can be a default here")
        if default is None and not any(key in values for values in given):
            continue
        if default is None and not all(key in values for values in given) and \
                (not col.nullable or col.server_default is not None or col.primary_key):
            # one statement cannot leave it to the database for some rows only: the batch is
            # refused, and GroupWriter writes its rows one at a time
            raise ValueError(f"{name}.{col.name}: given for some rows of the batch only")
        columns[col.name] = [values[key] if key in values else _default(default) for values in given]
    return columns


def _default(default) -> Any:
    if default is None:
        return None
    # SQLAlchemy wraps a function of no argument to take the execution context
    return default.arg(None) if default.is_callable else default.arg


def _retrieved(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def _settle(future: asyncio.Future, *, result=None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
