"""Database.first_entities: an ORM row read the way single-statement reads are (on the event
loop's own connection on SQLite, one autocommit round trip on PostgreSQL), its entities
detached with every column loaded, so a cache can keep them."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm.attributes import instance_state

from cielo.db import Database
from cielo.promo.partners.models import Partner
from tests.support.db import db_sql, run


def test_first_entities_reads_detached_rows_in_one_statement(settings):
    db_sql(settings, "INSERT INTO partners (id, environment, name, description, term_url, association_type, active, "
                     "created_at, updated_at) VALUES (901, 'sandbox', 'Probe', '', 'https://example.com/terms', "
                     "'MANUAL', true, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')")

    async def go():
        db = Database(settings.resolved_database_url, pool_size=2)
        statements: list[str] = []
        event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        if db._loop_reader is not None:
            event.listen(db._loop_reader, "before_cursor_execute", lambda *a: statements.append(a[2]))
        try:
            found = await db.first_entities(select(Partner).where(Partner.id == 901))
            count = len(statements)
            missing = await db.first_entities(select(Partner).where(Partner.id == 902))
            both = await db.first_entities(select(Partner, Partner.name).where(Partner.id == 901))
            return found, count, missing, both
        finally:
            await db.dispose()

    found, count, missing, both = run(go())
    (partner,) = found
    assert isinstance(partner, Partner) and partner.name == "Probe"
    assert instance_state(partner).detached and not instance_state(partner).expired_attributes
    assert count == 1, "one statement, nothing loaded after it"
    assert missing is None
    assert both[1] == "Probe" and both[0].id == 901
