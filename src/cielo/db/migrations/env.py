"""Alembic environment: always run with a connection handed over by cielo.db.migrate."""

from alembic import context

import cielo.models  # noqa: F401  (registers every table on Base.metadata)
from cielo.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guidance for people running bare `alembic`
    raise SystemExit("Run migrations with `cielo migrate`.")



def include_object(obj, name, type_, reflected, compare_to):
    # The SQLite R*Tree virtual tables (and their shadow tables) are made by hand in 0006 and 0009.
    return not (type_ == "table" and name and name.startswith(("establishment_rtree", "promotion_rtree")))


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
