"""The migrations build exactly the schema the models describe, on both databases: a model
changed without its migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import cielo.models  # noqa: F401 - every table on the metadata
from cielo.db import Base, Database
from tests.conftest import run


def _differences(url: str) -> list:
    async def go():
        db = Database(url, pool_size=1)
        try:
            async with db.engine.connect() as conn:
                return await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        finally:
            await db.dispose()

    ignored = ("_rtree",)  # SQLite's R*Tree virtual tables and their shadow tables: no model describes them
    return [d for d in run(go()) if not any(name in repr(d) for name in ignored)]


def test_migrations_match_the_models(settings):
    url = settings.database_url or f"sqlite+aiosqlite:///{settings.data_dir / 'cielo.db'}"
    assert _differences(url) == []
