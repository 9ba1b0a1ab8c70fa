"""subscriptions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('establishment_subscriptions',
    sa.Column('establishment_id', sa.Integer(), nullable=False),
    sa.Column('promotion_id', sa.Integer(), nullable=False),
    sa.Column('subscribed', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['establishment_id'], ['commercial_establishments.id'], name=op.f('fk_establishment_subscriptions_establishment_id_commercial_establishments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_establishment_subscriptions_promotion_id_promotions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('establishment_id', 'promotion_id', name=op.f('pk_establishment_subscriptions'))
    )
    op.create_table('subscription_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('establishment_id', sa.Integer(), nullable=False),
    sa.Column('promotion_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=1), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.CheckConstraint("action IN ('S', 'U')", name=op.f('ck_subscription_requests_action')),
    sa.CheckConstraint('status IS NULL OR status IN (1, 2)', name=op.f('ck_subscription_requests_status')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_subscription_requests_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['establishment_id'], ['commercial_establishments.id'], name=op.f('fk_subscription_requests_establishment_id_commercial_establishments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_subscription_requests_promotion_id_promotions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_requests'))
    )
    with op.batch_alter_table('subscription_requests', schema=None) as batch_op:
        batch_op.create_index('ix_subscription_requests_application', ['application_id', 'processed_at', 'id'], unique=False)
        batch_op.create_index('ix_subscription_requests_establishment', ['establishment_id', 'processed_at', 'id'], unique=False)
        batch_op.create_index('ix_subscription_requests_queue', ['processed_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('subscription_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_subscription_requests_queue')
        batch_op.drop_index('ix_subscription_requests_establishment')
        batch_op.drop_index('ix_subscription_requests_application')

    op.drop_table('subscription_requests')
    op.drop_table('establishment_subscriptions')
