"""a subscription request whose processing fails is retried a few times, then set aside

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09

One request that cannot be processed (broken data the processing relies on) used to fail its
whole batch, retried every 0.2 s forever, and the queue behind it stood still. Now each
failure is counted on the request (``attempts``, the last error in ``failure``), the next try
waits until ``retry_at``, and after the configured number of attempts the request is
processed as REJECTED with a reason saying so (API.md §3.3).
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscription_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failure', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscription_requests', schema=None) as batch_op:
        batch_op.drop_column('failure')
        batch_op.drop_column('retry_at')
        batch_op.drop_column('attempts')
