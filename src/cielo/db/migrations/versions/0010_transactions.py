"""card transactions and what they earned; a version of each establishment's campaigns

The campaign engine keeps each establishment's campaigns (its subscribed promotions and the
intervals of the subscriptions) in memory, keyed by ``campaigns_version``, which triggers bump
whenever an accepted subscription or one of its promotions changes — so every process sees a
change at its next ingestion, and a batch reads one small column instead of every promotion.

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

    with op.batch_alter_table('commercial_establishments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaigns_version', sa.Integer(), nullable=False, server_default='0'))
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


BUMP = "UPDATE commercial_establishments SET campaigns_version = campaigns_version + 1 WHERE id = {row}.establishment_id"
BUMP_SUBSCRIBED = ("UPDATE commercial_establishments SET campaigns_version = campaigns_version + 1 WHERE id IN "
                   "(SELECT establishment_id FROM subscription_requests WHERE promotion_id = NEW.id AND status = 1)")
SQLITE = [
    f"CREATE TRIGGER campaigns_subscription_insert AFTER INSERT ON subscription_requests WHEN new.status IS NOT NULL "
    f"BEGIN {BUMP.format(row='new')}; END",
    f"CREATE TRIGGER campaigns_subscription_update AFTER UPDATE OF status, processed_at, promotion_id, action "
    f"ON subscription_requests BEGIN {BUMP.format(row='new')}; {BUMP.format(row='old')}; END",
    f"CREATE TRIGGER campaigns_subscription_delete AFTER DELETE ON subscription_requests WHEN old.status IS NOT NULL "
    f"BEGIN {BUMP.format(row='old')}; END",
    f"CREATE TRIGGER campaigns_promotion_update AFTER UPDATE OF active, start_date, end_date, rules, campaign_type, "
    f"premium ON promotions BEGIN {BUMP_SUBSCRIBED.replace('NEW.', 'new.')}; END",
]
POSTGRES = [
    f"""CREATE FUNCTION campaigns_subscription() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN {BUMP.format(row='OLD')}; END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN {BUMP.format(row='NEW')}; END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER campaigns_subscription_insert AFTER INSERT ON subscription_requests FOR EACH ROW "
    "WHEN (NEW.status IS NOT NULL) EXECUTE FUNCTION campaigns_subscription()",
    "CREATE TRIGGER campaigns_subscription_update AFTER UPDATE OF status, processed_at, promotion_id, action "
    "ON subscription_requests FOR EACH ROW EXECUTE FUNCTION campaigns_subscription()",
    "CREATE TRIGGER campaigns_subscription_delete AFTER DELETE ON subscription_requests FOR EACH ROW "
    "WHEN (OLD.status IS NOT NULL) EXECUTE FUNCTION campaigns_subscription()",
    f"""CREATE FUNCTION campaigns_promotion() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {BUMP_SUBSCRIBED};
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER campaigns_promotion_update AFTER UPDATE OF active, start_date, end_date, rules, campaign_type, "
    "premium ON promotions FOR EACH ROW EXECUTE FUNCTION campaigns_promotion()",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS campaigns_subscription_insert", "DROP TRIGGER IF EXISTS campaigns_subscription_update",
               "DROP TRIGGER IF EXISTS campaigns_subscription_delete", "DROP TRIGGER IF EXISTS campaigns_promotion_update"]
POSTGRES_DROP = ["DROP TRIGGER IF EXISTS campaigns_subscription_insert ON subscription_requests",
                 "DROP TRIGGER IF EXISTS campaigns_subscription_update ON subscription_requests",
                 "DROP TRIGGER IF EXISTS campaigns_subscription_delete ON subscription_requests",
                 "DROP TRIGGER IF EXISTS campaigns_promotion_update ON promotions",
                 "DROP FUNCTION IF EXISTS campaigns_subscription()", "DROP FUNCTION IF EXISTS campaigns_promotion()"]


def downgrade() -> None:
    for statement in SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else POSTGRES_DROP:
        op.execute(statement)
    with op.batch_alter_table('commercial_establishments', schema=None) as batch_op:
        batch_op.drop_column('campaigns_version')
    op.drop_table('transaction_rewards')
    op.drop_table('transactions')
