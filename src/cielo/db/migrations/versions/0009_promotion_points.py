"""promotions carry their establishment's point and state, with their own spatial index

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24

A search near a point wants promotions, not establishments: in a city centre most
establishments have none, and going through the establishments' index touched ten times the
rows the answer needs. Each promotion now holds its establishment's latitude, longitude and
active flag (so a search never joins the establishments to decide), kept by triggers (every way of writing — API, import, seed, COPY — maintains them), indexed
by an R*Tree on SQLite and by an (environment, latitude, longitude) B-tree on PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE promotion_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon)",
    "UPDATE promotions SET latitude = e.latitude, longitude = e.longitude, establishment_active = e.active "
    "FROM commercial_establishments e WHERE e.id = promotions.establishment_id",
    "INSERT INTO promotion_rtree SELECT id, latitude, latitude, longitude, longitude FROM promotions",
    # A new promotion, or one moved to another establishment, takes the establishment's point.
    "CREATE TRIGGER promotion_point_insert AFTER INSERT ON promotions BEGIN "
    "UPDATE promotions SET latitude = e.latitude, longitude = e.longitude, establishment_active = e.active "
    "FROM commercial_establishments e WHERE e.id = new.establishment_id AND promotions.id = new.id; "
    "INSERT INTO promotion_rtree SELECT new.id, latitude, latitude, longitude, longitude FROM commercial_establishments "
    "WHERE id = new.establishment_id; END",
    "CREATE TRIGGER promotion_point_establishment AFTER UPDATE OF establishment_id ON promotions BEGIN "
    "UPDATE promotions SET latitude = e.latitude, longitude = e.longitude, establishment_active = e.active "
    "FROM commercial_establishments e WHERE e.id = new.establishment_id AND promotions.id = new.id; END",
    "CREATE TRIGGER promotion_point_update AFTER UPDATE OF latitude, longitude ON promotions BEGIN "
    "UPDATE promotion_rtree SET min_lat = new.latitude, max_lat = new.latitude, min_lon = new.longitude, "
    "max_lon = new.longitude WHERE id = new.id; END",
    "CREATE TRIGGER promotion_point_delete AFTER DELETE ON promotions BEGIN "
    "DELETE FROM promotion_rtree WHERE id = old.id; END",
    # An establishment that moves (or closes) takes its promotions along.
    "CREATE TRIGGER establishment_moves_promotions AFTER UPDATE OF latitude, longitude, active "
    "ON commercial_establishments BEGIN UPDATE promotions SET latitude = new.latitude, longitude = new.longitude, "
    "establishment_active = new.active WHERE establishment_id = new.id; END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS establishment_moves_promotions", "DROP TRIGGER IF EXISTS promotion_point_delete",
               "DROP TRIGGER IF EXISTS promotion_point_update", "DROP TRIGGER IF EXISTS promotion_point_establishment",
               "DROP TRIGGER IF EXISTS promotion_point_insert", "DROP TABLE IF EXISTS promotion_rtree"]

POSTGRES = [
    "UPDATE promotions p SET latitude = e.latitude, longitude = e.longitude, establishment_active = e.active "
    "FROM commercial_establishments e WHERE e.id = p.establishment_id",
    """CREATE FUNCTION promotion_point() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT e.latitude, e.longitude, e.active INTO NEW.latitude, NEW.longitude, NEW.establishment_active
          FROM commercial_establishments e WHERE e.id = NEW.establishment_id;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER promotion_point BEFORE INSERT OR UPDATE OF establishment_id ON promotions "
    "FOR EACH ROW EXECUTE FUNCTION promotion_point()",
    """CREATE FUNCTION establishment_moves_promotions() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE promotions SET latitude = NEW.latitude, longitude = NEW.longitude, establishment_active = NEW.active
         WHERE establishment_id = NEW.id;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER establishment_moves_promotions AFTER UPDATE OF latitude, longitude, active "
    "ON commercial_establishments FOR EACH ROW WHEN (OLD.latitude IS DISTINCT FROM NEW.latitude "
    "OR OLD.longitude IS DISTINCT FROM NEW.longitude OR OLD.active IS DISTINCT FROM NEW.active) "
    "EXECUTE FUNCTION establishment_moves_promotions()",
]
POSTGRES_DROP = ["DROP TRIGGER IF EXISTS establishment_moves_promotions ON commercial_establishments",
                 "DROP FUNCTION IF EXISTS establishment_moves_promotions()",
                 "DROP TRIGGER IF EXISTS promotion_point ON promotions", "DROP FUNCTION IF EXISTS promotion_point()"]


def upgrade() -> None:
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('establishment_active', sa.Boolean(), nullable=True))
        # covering on PostgreSQL: the candidates and their distances come from the index alone
        batch_op.create_index('ix_promotions_location', ['environment', 'latitude', 'longitude'], unique=False,
                              postgresql_include=['id', 'active', 'campaign_type', 'establishment_active'])
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else POSTGRES_DROP:
        op.execute(statement)
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.drop_index('ix_promotions_location')
        batch_op.drop_column('establishment_active')
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')
