"""SQLite's writers of one process take turns (db/engine.py, ``Database.write``): they are
served in the order they came, instead of polling the database's lock in SQLite's busy handler,
and a turn that does not come within the busy timeout is answered as a locked database (a 503)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import text

from cielo.db import Database
from cielo.db import engine as engine_module
from cielo.db.engine import unavailable
from tests.support.db import run


def _database(tmp_path) -> Database:
    return Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'turns.db'}")


def test_writers_are_served_in_the_order_they_came(tmp_path):
    async def go():
        db = _database(tmp_path)
        try:
            async with db.write() as session:
                await session.execute(text("CREATE TABLE turn_probe (seq INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER)"))

            async def writer(number: int) -> None:
                async with db.write() as session:
                    await session.execute(text("SELECT 1"))  # the transaction begun: the lock held
                    await asyncio.sleep(0)  # others arrive and wait meanwhile
                    await session.execute(text("INSERT INTO turn_probe (writer) VALUES (:n)"), {"n": number})

            await asyncio.gather(*(writer(n) for n in range(30)))
            async with db.write() as session:
                return [n for (n,) in (await session.execute(text("SELECT writer FROM turn_probe ORDER BY seq"))).all()]
        finally:
            await db.dispose()

    # without the turns, the pool's connections race for SQLite's lock and win it in any order
    assert run(go()) == list(range(30))


def test_a_turn_not_given_within_the_busy_timeout_is_a_locked_database(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)

    async def go():
        db = _database(tmp_path)
        held = asyncio.Event()

        async def hold() -> None:
            async with db.write() as session:
                await session.execute(text("SELECT 1"))
                held.set()
                await asyncio.sleep(1.0)

        holder = asyncio.create_task(hold())
        try:
            await held.wait()
            with pytest.raises(sqlite3.OperationalError) as refused:
                async with db.write() as session:
                    await session.execute(text("SELECT 1"))
            await holder
            async with db.write() as session:  # the turn is given again once the holder is done
                await session.execute(text("SELECT 1"))
            return refused.value
        finally:
            await holder
            await db.dispose()

    error = run(go())
    assert "locked" in str(error) and unavailable(error), "answered as a locked database: a 503 with Retry-After"


def test_a_write_begun_inside_another_fails_at_once(tmp_path):
    async def go():
        db = _database(tmp_path)
        try:
            async with db.write():
                async with db.write():
                    pass
        finally:
            await db.dispose()

    # it would otherwise wait for its own turn for the whole busy timeout, then answer 503
    with pytest.raises(RuntimeError, match="inside another"):
        run(go())
