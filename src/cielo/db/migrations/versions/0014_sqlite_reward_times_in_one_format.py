"""rewards' earned_at on SQLite written in the one text format of every other datetime

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

SQLite keeps datetimes as text. Rewards written by ``insert_columns`` before this revision
went through the driver's own adapter ('2026-12-06 17:06:03.332219+00:00', and without the
fraction when it was zero) instead of the dialect's format ('2026-12-06 17:06:03.332219'),
which every other write uses and which text comparison and ordering rely on. Every such value
is UTC (the column's type converts before writing), so the offset is dropped and a missing
fraction written out. PostgreSQL stores timestamps, not text: nothing to do there.
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # only rewards went through insert_columns before this revision (transactions did from it
    # on, already in the dialect's format): no scan of the transactions table
    op.execute("UPDATE transaction_rewards SET earned_at = CASE WHEN length(earned_at) = 25 "
               "THEN substr(earned_at, 1, 19) || '.000000' ELSE substr(earned_at, 1, 26) END "
               "WHERE earned_at LIKE '%+00:00'")


def downgrade() -> None:
    pass  # the normalised values are what every version reads
