"""oauth_codes.grant_id indexed: a grant's codes found without scanning every code

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

Expired grants are now deleted (promo/expiry.py), and deleting a grant deletes its codes
(ON DELETE CASCADE): without an index on the child column, SQLite scans the whole of
oauth_codes for every grant deleted, holding the write lock meanwhile.
"""

from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_codes_grant_id'), ['grant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oauth_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_codes_grant_id'))
