"""The migrations build exactly the schema the models describe, on both databases: a model
changed without its migration (or the reverse) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import cielo.models  # noqa: F401 - every table on the metadata
from cielo.db import Base, Database
from tests.support.db import run


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


def test_0014_writes_sqlite_datetimes_of_the_driver_format_in_the_dialect_format(tmp_path):
    """Rewards written before 0014 on SQLite carry '…+00:00' (and no fraction when it was zero);
    the migration rewrites them as every other datetime is written."""
    from alembic import command
    from sqlalchemy import text

    from cielo.db.migrate import alembic_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'cielo.db'}"

    async def go():
        db = Database(url, pool_size=1)
        try:
            async with db.engine.execution_options(sqlite_begin="NONE").connect() as conn:
                # rewards without their transactions: only the column's text matters here
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0013"))
                await conn.execute(text(
                    "INSERT INTO transaction_rewards (transaction_id, promotion_id, campaign_type, premium, reason, "
                    "earned_at) VALUES (1, 1, 'G', 'p', 'r', '2026-12-06 17:06:03.332219+00:00'), "
                    "(1, 2, 'G', 'p', 'r', '2026-12-06 17:06:03+00:00'), (1, 3, 'G', 'p', 'r', '2026-12-06 17:06:04.000001')"))
                await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
                return (await conn.execute(text("SELECT earned_at FROM transaction_rewards ORDER BY id"))).scalars().all()
        finally:
            await db.dispose()

    assert run(go()) == ["2026-12-06 17:06:03.332219", "2026-12-06 17:06:03.000000", "2026-12-06 17:06:04.000001"]


def _fresh_database(backend, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    return request.getfixturevalue("pg_databases").create("mig")


def test_0017_leaves_existing_tokens_without_ciphertext_and_goes_back(backend, tmp_path, request):
    """Tokens made before 0017 keep their digest and get no ciphertext (the panel says they
    cannot be shown again); downgrading drops the column and keeps the tokens."""
    from alembic import command
    from sqlalchemy import text

    from cielo.db.migrate import alembic_config

    url = _fresh_database(backend, tmp_path, request)

    async def go():
        db = Database(url, pool_size=1)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0016"))
                await conn.execute(text(
                    "INSERT INTO developers (id, name, email, password_hash, created_at) "
                    "VALUES (1, 'Ana', 'ana@example.com', 'x', CURRENT_TIMESTAMP)"))
                await conn.execute(text(
                    "INSERT INTO applications (id, developer_id, environment, name, client_id, client_secret_digest, "
                    "redirect_urls, holder_requests_per_minute, holder_max_page_size, created_at) VALUES (1, 1, "
                    "'sandbox', 'app', 'sbx_1', :d, '[]', 120, 100, CURRENT_TIMESTAMP)"), {"d": b"\0" * 32})
                await conn.execute(text(
                    "INSERT INTO app_access_tokens (application_id, name, public_id, secret_digest, requests_per_minute, "
                    "max_page_size, max_body_bytes, api_groups, created_at) VALUES (1, 'old', 'AAAAAAAAAAAA', :d, 60, "
                    "10, 1024, '[\"partner\"]', CURRENT_TIMESTAMP)"), {"d": b"\1" * 32})
                await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0017"))
                upgraded = (await conn.execute(text(
                    "SELECT public_id, secret_digest, secret_encrypted FROM app_access_tokens"))).all()
                await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0016"))
                downgraded = (await conn.execute(text("SELECT * FROM app_access_tokens"))).mappings().all()
                return upgraded, downgraded
        finally:
            await db.dispose()

    upgraded, downgraded = run(go())
    assert [(p, bytes(d), e) for p, d, e in upgraded] == [("AAAAAAAAAAAA", b"\1" * 32, None)]
    assert len(downgraded) == 1 and "secret_encrypted" not in downgraded[0]
