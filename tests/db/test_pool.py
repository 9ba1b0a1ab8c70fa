"""PostgreSQL connections are opened once and kept (db/engine.py): a burst of more requests
than the pool holds waits for a connection instead of opening extra ones that are closed again
when they return. Each new connection costs a handshake and asyncpg's type introspection, which
under a steady load of writes (every request past the pool's size) starved the event loop."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text

from cielo.db import Database
from tests.support.db import run


@pytest.mark.postgres
def test_a_burst_past_the_pool_reuses_its_connections(pg_url):
    async def go() -> int:
        db = Database(pg_url, pool_size=4)
        opened = []
        event.listen(db.engine.sync_engine, "connect", lambda *_: opened.append(1))
        try:
            async def read() -> None:
                async with db.read() as session:
                    await session.execute(text("SELECT pg_sleep(0.01)"))

            for _ in range(3):
                await asyncio.gather(*(read() for _ in range(40)))
            return len(opened)
        finally:
            await db.dispose()

    assert run(go()) == 4, "every read of three bursts of 40 ran on the pool's 4 connections"


@pytest.mark.postgres
def test_the_driver_s_connection_goes_back_to_the_pool_whatever_its_statement_did(pg_url, monkeypatch):
    """Database.driver lends a pooled connection to asyncpg itself: a statement the server
    refuses gives it back as it is, a constraint's refusal comes out as SQLAlchemy's
    IntegrityError (what services catch), and a statement cut off midway discards it. With a
    pool of one, a connection kept or left broken would make the last statement wait or fail."""
    import asyncpg
    from sqlalchemy.exc import IntegrityError

    from cielo.db import engine

    monkeypatch.setattr(engine, "PG_POOL_TIMEOUT_S", 2)  # a connection not given back fails in seconds, not ten

    async def go() -> tuple[list[str], int, int]:
        db = Database(pg_url, pool_size=1)
        opened = []
        event.listen(db.engine.sync_engine, "connect", lambda *_: opened.append(1))
        seen = []
        try:
            async with db.driver() as conn:
                await conn.execute("CREATE TEMP TABLE IF NOT EXISTS probe (n int PRIMARY KEY)")
            for statement, expected in [("SELECT 1/0", asyncpg.DivisionByZeroError),
                                        ("SELECT * FROM no_such_table", asyncpg.UndefinedTableError)]:
                try:
                    async with db.driver() as conn:
                        await conn.fetchval(statement)
                except expected:
                    seen.append(expected.__name__)
            for _ in range(2):
                try:
                    async with db.driver() as conn:
                        await conn.execute("INSERT INTO probe VALUES (1)")
                except IntegrityError as exc:
                    seen.append(type(exc.orig).__name__)
            before = len(opened)
            slow = asyncio.ensure_future(_sleep_in_driver(db))
            await asyncio.sleep(0.3)
            slow.cancel()
            try:
                await slow
            except asyncio.CancelledError:
                seen.append("cancelled")
            async with db.driver() as conn:
                answer = await conn.fetchval("SELECT 41 + 1")
            return seen, answer, len(opened) - before
        finally:
            await db.dispose()

    seen, answer, reopened = run(go())
    assert seen == ["DivisionByZeroError", "UndefinedTableError", "UniqueViolationError", "cancelled"]
    assert answer == 42
    assert reopened == 1, "the connection cut off midway was discarded and a new one opened"


async def _sleep_in_driver(db) -> None:
    async with db.driver() as conn:
        await conn.execute("SELECT pg_sleep(5)")
