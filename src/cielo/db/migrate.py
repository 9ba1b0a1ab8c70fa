"""Apply the Alembic migrations, programmatically (``cielo migrate``, ``cielo serve``).

Several processes may start at once: on PostgreSQL an advisory lock makes them take turns;
on SQLite the write transaction (BEGIN IMMEDIATE) does.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from cielo.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x6369656C6F  # "cielo"


def alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(sync_connection) -> None:
    command.upgrade(alembic_config(sync_connection), "head")


async def upgrade(db: Database) -> None:
    if db.is_sqlite:
        async with db.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            await conn.run_sync(_upgrade)
    else:
        async with db.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            await conn.run_sync(_upgrade)


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
