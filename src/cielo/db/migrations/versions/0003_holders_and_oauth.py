"""holders and oauth

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('holders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('cpf_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('cpf_encrypted', sa.Text(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=100), nullable=False),
    sa.Column('birthdate', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=6), nullable=True),
    sa.Column('phone_area_code', sa.Integer(), nullable=True),
    sa.Column('phone_number', sa.Integer(), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("environment IN ('production', 'sandbox')", name=op.f('ck_holders_environment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holders')),
    sa.UniqueConstraint('environment', 'cpf_fingerprint', name='uq_holders_environment_cpf')
    )
    op.create_table('oauth_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_oauth_grants_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['holder_id'], ['holders.id'], name=op.f('fk_oauth_grants_holder_id_holders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_grants'))
    )
    with op.batch_alter_table('oauth_grants', schema=None) as batch_op:
        batch_op.create_index('ix_oauth_grants_holder_application', ['holder_id', 'application_id'], unique=False)

    op.create_table('oauth_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=43), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('redirect_url', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), nullable=True),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('prefill_encrypted', sa.Text(), nullable=False),
    sa.Column('cpf_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_oauth_requests_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['holder_id'], ['holders.id'], name=op.f('fk_oauth_requests_holder_id_holders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_requests')),
    sa.UniqueConstraint('public_id', name=op.f('uq_oauth_requests_public_id'))
    )
    op.create_table('holder_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=7), nullable=False),
    sa.Column('public_id', sa.String(length=12), nullable=False),
    sa.Column('secret_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['grant_id'], ['oauth_grants.id'], name=op.f('fk_holder_tokens_grant_id_oauth_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holder_tokens')),
    sa.UniqueConstraint('public_id', name=op.f('uq_holder_tokens_public_id'))
    )
    with op.batch_alter_table('holder_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holder_tokens_grant_id'), ['grant_id'], unique=False)

    op.create_table('oauth_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('redirect_url', sa.Text(), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_oauth_codes_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grant_id'], ['oauth_grants.id'], name=op.f('fk_oauth_codes_grant_id_oauth_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_codes')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_oauth_codes_code_digest'))
    )


def downgrade() -> None:
    op.drop_table('oauth_codes')
    with op.batch_alter_table('holder_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holder_tokens_grant_id'))

    op.drop_table('holder_tokens')
    op.drop_table('oauth_requests')
    with op.batch_alter_table('oauth_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_oauth_grants_holder_application')

    op.drop_table('oauth_grants')
    op.drop_table('holders')
