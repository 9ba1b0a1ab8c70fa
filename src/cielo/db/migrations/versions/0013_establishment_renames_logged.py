"""an establishment renamed (or given another business activity) logs its promotions as changed

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25

A search's answer shows each promotion's establishment (fictitious name, business activity).
The in-memory index keeps those answers across commits and drops them by the change log
(promo/promotions/index.py), so a change to what an answer shows of the establishment must
reach the log too; moves and closings already did (through 0009's triggers, which update the
promotions).
"""

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE TRIGGER establishment_renames_promotions AFTER UPDATE OF fictitious_name, business_activity_id "
    "ON commercial_establishments BEGIN INSERT INTO promotion_changes (promotion_id) "
    "SELECT id FROM promotions WHERE establishment_id = new.id; END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS establishment_renames_promotions"]

POSTGRES = [
    """CREATE FUNCTION establishment_renames_promotions() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO promotion_changes (promotion_id) SELECT id FROM promotions WHERE establishment_id = NEW.id;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER establishment_renames_promotions AFTER UPDATE OF fictitious_name, business_activity_id "
    "ON commercial_establishments FOR EACH ROW WHEN (OLD.fictitious_name IS DISTINCT FROM NEW.fictitious_name "
    "OR OLD.business_activity_id IS DISTINCT FROM NEW.business_activity_id) "
    "EXECUTE FUNCTION establishment_renames_promotions()",
]
POSTGRES_DROP = ["DROP TRIGGER IF EXISTS establishment_renames_promotions ON commercial_establishments",
                 "DROP FUNCTION IF EXISTS establishment_renames_promotions()"]


def upgrade() -> None:
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else POSTGRES_DROP:
        op.execute(statement)
