"""table_writes: which tables each PostgreSQL transaction wrote, for the read caches

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

The read caches of every process were emptied by any commit of the whole PostgreSQL server
(its snapshot moves for every database), so a steady stream of writes to one table — the
sign-ins of /login, queued subscription requests — sent every request back to the database for
the application and token it had just read. A statement-level trigger on every table now
records, in the writing transaction itself, its id and the table (db/changes.py): a watcher
that sees transactions end looks up what they wrote, empties only the caches that read those
tables, and ignores transactions of other databases. SQLite keeps emptying every cache on any
commit (its one writer has no transaction ids to look up); the table exists there unused.

A table added later gets the trigger in its own migration (tests/db/test_table_writes.py
fails for a table without it).
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

FUNCTION = """CREATE FUNCTION record_table_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO table_writes (xid, table_name) VALUES (pg_current_xact_id()::text::bigint, TG_TABLE_NAME)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$"""
# every table of this database but the record itself and Alembic's own
TRIGGERS = """DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
             AND tablename NOT IN ('table_writes', 'alembic_version') LOOP
        EXECUTE format('CREATE TRIGGER table_writes_record AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION record_table_write()', t);
    END LOOP;
END $$"""
DROP_TRIGGERS = """DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS table_writes_record ON %I', t);
    END LOOP;
END $$"""


def upgrade() -> None:
    op.create_table(
        'table_writes',
        sa.Column('xid', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('table_name', sa.String(length=64), nullable=False),
        sa.Column('written_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('xid', 'table_name', name=op.f('pk_table_writes')),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
        op.execute(TRIGGERS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_TRIGGERS)
        op.execute("DROP FUNCTION IF EXISTS record_table_write()")
    op.drop_table('table_writes')
