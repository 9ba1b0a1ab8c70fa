"""a log of the promotions written, so that each process's in-memory search index stays exact

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24

Every insert, update and delete of a promotion — through the API, an import, the seed's COPY,
or an establishment that moves or closes (the triggers of 0009) — adds the promotion's id to
``promotion_changes``, by triggers, so nothing that writes can forget it. A process that keeps
the promotions' points in memory (promo/promotions/index.py) re-reads, after any commit, only
the promotions logged since its last look:

- SQLite has one writer at a time, so the log's sequence is the order of commits: a reader
  asks for what comes after the last sequence number it saw (AUTOINCREMENT: never reused).
- PostgreSQL commits in an order of its own, so each row also holds its transaction's id; a
  reader asks for every row from the oldest transaction still running at its last look.

``promotion_changes_horizon`` says up to where the log has been pruned: a reader whose last
look is older loads everything again.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SQLITE = [
    f"CREATE TRIGGER promotion_changes_{event.lower()} AFTER {event} ON promotions BEGIN "
    f"INSERT INTO promotion_changes (promotion_id) VALUES ({row}.id); END"
    for event, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old"))
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS promotion_changes_{event}" for event in ("insert", "update", "delete")]

POSTGRES = [
    "ALTER TABLE promotion_changes ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint)",
    # One statement-level trigger per event (a transition table serves one event only): a COPY
    # of 100,000 promotions logs them in one INSERT … SELECT, not 100,000.
    """CREATE FUNCTION log_promotion_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO promotion_changes (promotion_id) SELECT id FROM changed;
        RETURN NULL;
    END $$""",
] + [
    f"CREATE TRIGGER promotion_changes_{event.lower()} AFTER {event} ON promotions "
    f"REFERENCING {table} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION log_promotion_changes()"
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
]
POSTGRES_DROP = [f"DROP TRIGGER IF EXISTS promotion_changes_{event} ON promotions"
                 for event in ("insert", "update", "delete")] + ["DROP FUNCTION IF EXISTS log_promotion_changes()"]


def upgrade() -> None:
    op.create_table(
        'promotion_changes',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('promotion_id', sa.Integer(), nullable=False),
        sa.Column('xid', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_promotion_changes')),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_promotion_changes_xid', 'promotion_changes', ['xid'], unique=False)
    op.create_table(
        'promotion_changes_horizon',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('upto', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_promotion_changes_horizon_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_changes_horizon')),
    )
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else POSTGRES_DROP:
        op.execute(statement)
    op.drop_table('promotion_changes_horizon')
    op.drop_index('ix_promotion_changes_xid', table_name='promotion_changes')
    op.drop_table('promotion_changes')
