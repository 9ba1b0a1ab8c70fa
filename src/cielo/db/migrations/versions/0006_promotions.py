"""promotions and the spatial indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promotions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('environment', sa.String(length=10), nullable=False),
    sa.Column('establishment_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('campaign_type', sa.String(length=1), nullable=False),
    sa.Column('campaign_model', sa.String(length=100), nullable=True),
    sa.Column('transaction_days', sa.String(length=100), nullable=True),
    sa.Column('premium', sa.String(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('validity_redemption', sa.Date(), nullable=True),
    sa.Column('shareable', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("campaign_type IN ('A', 'B', 'E', 'F', 'G', 'P', 'R', 'X', 'W')", name=op.f('ck_promotions_campaign_type')),
    sa.CheckConstraint("environment IN ('production', 'sandbox')", name=op.f('ck_promotions_environment')),
    sa.CheckConstraint('start_date <= end_date', name=op.f('ck_promotions_dates')),
    sa.ForeignKeyConstraint(['establishment_id'], ['commercial_establishments.id'], name=op.f('fk_promotions_establishment_id_commercial_establishments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions'))
    )
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.create_index('ix_promotions_establishment', ['establishment_id', 'id'], unique=False)

    with op.batch_alter_table('commercial_establishments', schema=None) as batch_op:
        batch_op.create_index('ix_establishments_location', ['latitude', 'longitude'], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        # SQLite's spatial index: an R*Tree of the establishments' points, kept by triggers so
        # that every way of writing establishments (API, import, seed) maintains it.
        op.execute("CREATE VIRTUAL TABLE establishment_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon)")
        op.execute("INSERT INTO establishment_rtree SELECT id, latitude, latitude, longitude, longitude "
                   "FROM commercial_establishments")
        op.execute("CREATE TRIGGER establishment_rtree_insert AFTER INSERT ON commercial_establishments BEGIN "
                   "INSERT INTO establishment_rtree VALUES (new.id, new.latitude, new.latitude, new.longitude, new.longitude); END")
        op.execute("CREATE TRIGGER establishment_rtree_update AFTER UPDATE OF latitude, longitude ON commercial_establishments "
                   "BEGIN UPDATE establishment_rtree SET min_lat = new.latitude, max_lat = new.latitude, "
                   "min_lon = new.longitude, max_lon = new.longitude WHERE id = new.id; END")
        op.execute("CREATE TRIGGER establishment_rtree_delete AFTER DELETE ON commercial_establishments BEGIN "
                   "DELETE FROM establishment_rtree WHERE id = old.id; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS establishment_rtree_{trigger}")
        op.execute("DROP TABLE IF EXISTS establishment_rtree")
    with op.batch_alter_table('commercial_establishments', schema=None) as batch_op:
        batch_op.drop_index('ix_establishments_location')

    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.drop_index('ix_promotions_establishment')

    op.drop_table('promotions')
