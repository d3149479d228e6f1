"""What the ``kavach`` commands share: the settings they read, and the schema check that lets
a command change nothing when the database is not ready for it.

A command opens the database as the app does, with `Database.from_settings` or
`Store.from_settings`, whose errors already name the setting to fix."""

from __future__ import annotations

import argparse

from ..database import Database
from ..errors import ConfigurationError
from ..migrate import head_revision, schema_behind, schema_revision
from ..settings import KavachSettings, load_settings


def settings_of(args: argparse.Namespace) -> KavachSettings:
    """The app's ``KAVACH_*`` settings, with ``--database-url`` when given."""
    return load_settings(KavachSettings, database_url=getattr(args, "database_url", None))


async def require_schema(database: Database) -> None:
    """Go on only if the database has the newest kavach schema; creates nothing.

    Raises:
        ConfigurationError: it has no kavach tables, or older ones: run ``kavach db upgrade``.
        DatabaseUnavailableError: it cannot be reached.
    """
    current = await schema_revision(database)
    if current != head_revision():
        raise ConfigurationError(schema_behind(database, current, NOTHING_CHANGED))


NOTHING_CHANGED = " first. Nothing was changed."
"""How a command's `schema_behind` message ends: it stopped before writing anything."""
