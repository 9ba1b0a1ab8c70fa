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
