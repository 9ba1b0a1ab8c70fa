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

from sqlalchemy import insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from cielo.db.engine import Database

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """Writes items with ``write_many(session, items) -> results`` (one result per item, in
    order), many callers' items in one transaction of ``db.write()``."""

    def __init__(self, db: Database, write_many: Callable[[AsyncSession, list[Item]], Awaitable[list[Result]]],
                 *, max_batch: int = 500) -> None:
        self._db = db
        self._write_many = write_many
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writing: asyncio.Task | None = None

    @classmethod
    def adding_rows(cls, db: Database, *, max_batch: int = 500) -> GroupWriter[Any, Any]:
        """A writer of new ORM rows of one class: ``await writer.write(row)`` inserts the row with
        the others waiting, and gives it back once committed, as it was built (its id, when the
        database draws it, is not read back)."""
        return cls(db, _add_rows, max_batch=max_batch)

    async def write(self, item: Item) -> Result:
        """Write ``item`` (with whatever else is waiting) and return its result once committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # an error of a request whose client left is not "unretrieved"
        self._pending.append((item, future))
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._drain())
        # the write goes on if this request is cancelled (its client gone): it is committed or
        # refused like any other, only unanswered
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                try:
                    results = await self._transaction([item for item, _ in batch])
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
                (result,) = await self._transaction([item])
            except Exception as exc:
                _settle(future, error=exc)
            else:
                _settle(future, result=result)

    async def _transaction(self, items: list[Item]) -> list[Result]:
        async with self._db.write() as session:
            return await self._write_many(session, items)


async def _add_rows(session: AsyncSession, rows: list[Any]) -> list[Any]:
    # SQLAlchemy's bulk insert of the rows' values (one statement per run of rows with the same
    # columns given), not the unit of work's per-object bookkeeping; the rows stay as they
    # were built (no id read back).
    mapper = inspect(type(rows[0]))
    columns = {attr.key for attr in mapper.column_attrs}
    # each row's own attributes: one left unset gets its column's default
    await session.execute(insert(mapper), [{key: value for key, value in vars(row).items() if key in columns}
                                           for row in rows])
    return rows


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
