"""the phones holders sign in from, one row per device, for /me's devices

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

A sign-up or sign-in from an Android or iOS browser records the device (API.md §3.2); the
device is recognised again by a long-lived cookie, of which only a SHA-256 digest is kept.
The unique (holder, cookie) pair makes a second sighting a no-op and is the index /me reads.
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('holder_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=7), nullable=False),
    sa.Column('cookie_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("type IN ('ANDROID', 'IOS')", name=op.f('ck_holder_devices_type')),
    sa.ForeignKeyConstraint(['holder_id'], ['holders.id'], name=op.f('fk_holder_devices_holder_id_holders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holder_devices')),
    sa.UniqueConstraint('holder_id', 'cookie_digest', name='uq_holder_devices_holder_cookie')
    )


def downgrade() -> None:
    op.drop_table('holder_devices')
