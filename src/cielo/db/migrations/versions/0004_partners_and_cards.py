"""partners and cards

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('term_url', sa.Text(), nullable=False),
    sa.Column('association_type', sa.String(length=9), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("association_type IN ('AUTOMATIC', 'MANUAL')", name=op.f('ck_partners_association_type')),
    sa.CheckConstraint("environment IN ('production', 'sandbox')", name=op.f('ck_partners_environment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners'))
    )
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partners_environment'), ['environment'], unique=False)

    op.create_table('cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('brand', sa.String(length=20), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('pan_length', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('expiry_month', sa.Integer(), nullable=False),
    sa.Column('expiry_year', sa.Integer(), nullable=False),
    sa.Column('holder_name', sa.String(length=100), nullable=False),
    sa.Column('nickname', sa.String(length=50), nullable=True),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=6), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('WEAK', 'STRONG')", name=op.f('ck_cards_status')),
    sa.CheckConstraint("type IN ('DEBIT', 'CREDIT', 'MULTIPLE')", name=op.f('ck_cards_type')),
    sa.ForeignKeyConstraint(['holder_id'], ['holders.id'], name=op.f('fk_cards_holder_id_holders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cards')),
    sa.UniqueConstraint('holder_id', 'fingerprint', name='uq_cards_holder_fingerprint')
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index('ix_cards_environment_fingerprint', ['environment', 'fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_cards_holder_id'), ['holder_id'], unique=False)

    op.create_table('card_partners',
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('status_association', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_partners_card_id_cards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_card_partners_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('card_id', 'partner_id', name=op.f('pk_card_partners'))
    )
    op.create_table('card_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=43), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('redirect_url', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_card_requests_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['holder_id'], ['holders.id'], name=op.f('fk_card_requests_holder_id_holders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_requests')),
    sa.UniqueConstraint('public_id', name=op.f('uq_card_requests_public_id'))
    )


def downgrade() -> None:
    op.drop_table('card_requests')
    op.drop_table('card_partners')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cards_holder_id'))
        batch_op.drop_index('ix_cards_environment_fingerprint')

    op.drop_table('cards')
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partners_environment'))

    op.drop_table('partners')
