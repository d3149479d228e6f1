"""What the ``kavach`` commands share: the settings they read, and the schema check that lets
a command change nothing when the database is not ready for it.

A command opens the database as the app does, with `Database.from_settings` or
`Store.from_settings`, whose errors already name the setting to fix."""

from __future__ import annotations

import argparse

from ..database import Database
from ..database_urls import describe_database
from ..errors import ConfigurationError
from ..migrate import head_revision, schema_revision
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
        raise ConfigurationError(schema_behind(database, current))


def schema_behind(database: Database, current: str | None) -> str:
    """What to do about a database whose kavach schema is at ``current``, not the newest."""
    state = "has no kavach tables" if current is None else f"is at schema revision {current}"
    return (
        f"The database {describe_database(database.url)} {state}, and this version needs "
        f"{head_revision()}: run `kavach db upgrade` with the same KAVACH_DATABASE_URL first. "
        "Nothing was changed."
    )
