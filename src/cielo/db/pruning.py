"""Deleting rows that are no longer needed, a chunk per transaction.

The candidates are read first by a single-statement read (on SQLite off the event loop's
thread, and without the write lock), then deleted by id in a short transaction that checks
the condition again (a row may have changed in between). So a first pass over a table that
grew for months never holds SQLite's write lock, or PostgreSQL's row locks, for long.
"""

from __future__ import annotations

import asyncio
from collections import deque

from sqlalchemy import delete, select

from cielo.db.engine import Database

CHUNK = 500


async def delete_where(db: Database, model, condition, *, chunk: int = CHUNK) -> int:
    """Delete every row of ``model`` (a mapped class with an ``id``) matching ``condition``;
    returns how many were deleted."""
    deleted = 0
    while True:
        ids = [row[0] for row in await db.all(select(model.id).where(condition).limit(chunk), heavy=True)]
        if not ids:
            return deleted
        async with db.write() as session:
            result = await session.execute(
                delete(model).where(db.sql.among(model.id, ids), condition)
                .execution_options(synchronize_session=False))
        count = getattr(result, "rowcount", 0) or 0
        deleted += count
        if len(ids) < chunk or count == 0:
            return deleted
        await asyncio.sleep(0)  # let the requests in between two chunks


class Retention:
    """Where a log stood (a sequence number, or the oldest transaction running), noted over
    time: what lies before the position noted ``keep_s`` ago has been over for that long, and
    may be forgotten. Both PostgreSQL change logs are pruned by it (the promotions' change log,
    the read caches' ``table_writes``), by position rather than by the time a row was written,
    which is its transaction's start: a transaction that ran long keeps its rows as long after
    it ended."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self._noted: deque[tuple[float, int]] = deque()  # (monotonic time, position)

    def note(self, now_s: float, position: int) -> int | None:
        """Note where the log stands now; the newest position noted at least ``keep_s`` ago
        (None while there is none): everything before it may go."""
        self._noted.append((now_s, position))
        upto = None
        while self._noted and now_s - self._noted[0][0] >= self.keep_s:
            upto = self._noted.popleft()[1]
        return upto
