"""developer panel

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('developers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_developers')),
    sa.UniqueConstraint('email', name=op.f('uq_developers_email'))
    )
    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('developer_id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('client_id', sa.String(length=40), nullable=False),
    sa.Column('client_secret_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('redirect_urls', sa.JSON(), nullable=False),
    sa.Column('holder_requests_per_minute', sa.Integer(), nullable=False),
    sa.Column('holder_max_page_size', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('secret_rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("environment IN ('production', 'sandbox')", name=op.f('ck_applications_environment')),
    sa.ForeignKeyConstraint(['developer_id'], ['developers.id'], name=op.f('fk_applications_developer_id_developers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('client_id', name=op.f('uq_applications_client_id'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_developer_id'), ['developer_id'], unique=False)

    op.create_table('developer_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('developer_id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=12), nullable=False),
    sa.Column('secret_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['developer_id'], ['developers.id'], name=op.f('fk_developer_sessions_developer_id_developers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_developer_sessions')),
    sa.UniqueConstraint('public_id', name=op.f('uq_developer_sessions_public_id'))
    )
    with op.batch_alter_table('developer_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_developer_sessions_developer_id'), ['developer_id'], unique=False)

    op.create_table('app_access_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('public_id', sa.String(length=12), nullable=False),
    sa.Column('secret_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('requests_per_minute', sa.Integer(), nullable=False),
    sa.Column('max_page_size', sa.Integer(), nullable=False),
    sa.Column('max_body_bytes', sa.Integer(), nullable=False),
    sa.Column('api_groups', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_app_access_tokens_application_id_applications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_access_tokens')),
    sa.UniqueConstraint('public_id', name=op.f('uq_app_access_tokens_public_id'))
    )
    with op.batch_alter_table('app_access_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_app_access_tokens_application', ['application_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('app_access_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_app_access_tokens_application')

    op.drop_table('app_access_tokens')
    with op.batch_alter_table('developer_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_developer_sessions_developer_id'))

    op.drop_table('developer_sessions')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_developer_id'))

    op.drop_table('applications')
    op.drop_table('developers')
