"""commercial establishments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('commercial_establishments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('document_type', sa.String(length=4), nullable=False),
    sa.Column('document', sa.String(length=14), nullable=False),
    sa.Column('cnpj_root', sa.String(length=8), nullable=True),
    sa.Column('fictitious_name', sa.String(length=100), nullable=False),
    sa.Column('business_activity_id', sa.Integer(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('address', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("document_type IN ('CNPJ', 'CPF')", name=op.f('ck_commercial_establishments_document_type')),
    sa.CheckConstraint("environment IN ('production', 'sandbox')", name=op.f('ck_commercial_establishments_environment')),
    sa.CheckConstraint('latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180', name=op.f('ck_commercial_establishments_coordinates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commercial_establishments'))
    )
    with op.batch_alter_table('commercial_establishments', schema=None) as batch_op:
        batch_op.create_index('ix_establishments_cnpj_root', ['environment', 'cnpj_root'], unique=False)
        batch_op.create_index('ix_establishments_document', ['environment', 'document'], unique=False)

    op.create_table('establishment_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('establishment_id', sa.Integer(), nullable=True),
    sa.Column('cnpj_root', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(establishment_id IS NULL) <> (cnpj_root IS NULL)', name=op.f('ck_establishment_grants_one_target')),
    sa.ForeignKeyConstraint(['establishment_id'], ['commercial_establishments.id'], name=op.f('fk_establishment_grants_establishment_id_commercial_establishments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_establishment_grants_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_establishment_grants'))
    )
    with op.batch_alter_table('establishment_grants', schema=None) as batch_op:
        batch_op.create_index('ix_establishment_grants_partner', ['partner_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('establishment_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_establishment_grants_partner')

    op.drop_table('establishment_grants')
    with op.batch_alter_table('commercial_establishments', schema=None) as batch_op:
        batch_op.drop_index('ix_establishments_document')
        batch_op.drop_index('ix_establishments_cnpj_root')

    op.drop_table('commercial_establishments')
