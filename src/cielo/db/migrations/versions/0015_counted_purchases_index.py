"""the engine's history read from an index of the counted purchases alone, amounts included

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

The campaign engine reads, for each (holder, establishment) of a batch, the purchases that
count (neither cancelled nor undone): their ids, instants and amounts. ix_transactions_pair
held every transaction of the pair and sent each row to the table for its kind, reversal and
amount. ix_transactions_counted holds only the counted purchases, with the amount, so the
read stays in the index (on SQLite; on PostgreSQL where the visibility map allows).
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

COUNTED = "kind = 'P' AND reversed_by_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_pair')
        batch_op.create_index('ix_transactions_counted',
                              ['holder_id', 'establishment_id', 'occurred_at', 'id', 'amount_cents'], unique=False,
                              sqlite_where=sa.text(COUNTED), postgresql_where=sa.text(COUNTED))


def downgrade() -> None:
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transactions_counted')
        batch_op.create_index('ix_transactions_pair', ['holder_id', 'establishment_id', 'occurred_at', 'id'],
                              unique=False)
