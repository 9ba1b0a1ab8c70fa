"""sandbox Access-Tokens kept encrypted beside their digest, so their developer can see them again

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08

A sandbox application's Access-Token can be shown again from its details once the developer
re-enters their password (docs/SECURITY.md): the token is stored under the secret keys, the
digest still serving lookups. Production tokens keep the digest alone (shown once), and the
tokens made before this migration have no ciphertext: they simply cannot be shown again.
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_encrypted', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('app_access_tokens', schema=None) as batch_op:
        batch_op.drop_column('secret_encrypted')
