"""card transactions and what they earned

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=1), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('establishment_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('product_primary_id', sa.Integer(), nullable=False),
    sa.Column('product_primary_description', sa.String(length=100), nullable=False),
    sa.Column('product_secondary_id', sa.Integer(), nullable=True),
    sa.Column('product_secondary_description', sa.String(length=100), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('reversed_by_id', sa.Integer(), nullable=True),
    sa.Column('contains_promotions', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("environment IN ('production', 'sandbox')", name=op.f('ck_transactions_environment')),
    sa.CheckConstraint("kind IN ('P', 'C', 'U')", name=op.f('ck_transactions_kind')),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_transactions_amount')),
    sa.CheckConstraint("(kind = 'P') = (reverses_id IS NULL)", name=op.f('ck_transactions_reversal')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_transactions_card_id_cards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['establishment_id'], ['commercial_establishments.id'], name=op.f('fk_transactions_establishment_id_commercial_establishments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['holder_id'], ['holders.id'], name=op.f('fk_transactions_holder_id_holders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reverses_id'], ['transactions.id'], name=op.f('fk_transactions_reverses_id_transactions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_transactions_reverses_id'))
    )
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index('ix_transactions_holder', ['holder_id', 'kind', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_transactions_pair', ['holder_id', 'establishment_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('uq_transactions_external_id', ['environment', 'external_id'], unique=True,
                              sqlite_where=sa.text('external_id IS NOT NULL'),
                              postgresql_where=sa.text('external_id IS NOT NULL'))

    op.create_table('transaction_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('promotion_id', sa.Integer(), nullable=False),
    sa.Column('campaign_type', sa.String(length=1), nullable=False),
    sa.Column('premium', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('earned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'], name=op.f('fk_transaction_rewards_promotion_id_promotions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['transaction_id'], ['transactions.id'], name=op.f('fk_transaction_rewards_transaction_id_transactions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transaction_rewards'))
    )
    with op.batch_alter_table('transaction_rewards', schema=None) as batch_op:
        batch_op.create_index('ix_transaction_rewards_transaction', ['transaction_id', 'id'], unique=False)
        batch_op.create_index('uq_transaction_rewards_live', ['transaction_id', 'promotion_id'], unique=True,
                              sqlite_where=sa.text('withdrawn_at IS NULL'),
                              postgresql_where=sa.text('withdrawn_at IS NULL'))


def downgrade() -> None:
    op.drop_table('transaction_rewards')
    op.drop_table('transactions')
