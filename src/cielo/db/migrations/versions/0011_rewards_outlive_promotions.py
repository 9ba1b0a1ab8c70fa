"""a reward is a record of what was earned: it names its promotion without a foreign key

A reward copies what the holder earned (promotion id, campaign type, prize, why) at the time,
like an audit line. It must outlive a change to the promotion, and a cascade from promotions
would erase holders' history; the key also cost a referential check per row (about a quarter
of writing a batch's rewards on PostgreSQL). Promotion ids come from the campaigns the engine
has just read under the pair's lock.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('transaction_rewards', schema=None) as batch_op:
        batch_op.drop_constraint('fk_transaction_rewards_promotion_id_promotions', type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('transaction_rewards', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_transaction_rewards_promotion_id_promotions', 'promotions',
                                    ['promotion_id'], ['id'], ondelete='CASCADE')
