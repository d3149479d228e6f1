"""Alembic environment for kavach-fastapi's own tables.

Run through `kavach_fastapi.migrate` (``kavach db upgrade``), which hands over an open
connection; the package keeps its own version table so an app's own Alembic history is never
touched.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from kavach_fastapi.tables import metadata

VERSION_TABLE = "kavach_alembic_version"


def run_migrations(connection: Connection) -> None:
    """Bring the schema to the target revision on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run kavach-fastapi migrations with `kavach db upgrade`")
run_migrations(connection)
