"""Schema migrations: Alembic scripts shipped inside the package, run on an async engine.

The schema is versioned in the table ``kavach_alembic_version``, separate from any Alembic
history of the app itself. At start-up the package checks the version: a local SQLite database
is brought up to date automatically; any other database must be upgraded explicitly with
``kavach db upgrade`` (so several instances never race to alter a shared schema), and the app
refuses to start until it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from .database import Database
from .database_urls import describe_database, is_sqlite, sqlite_file
from .errors import ConfigurationError, DatabaseUnavailableError
from .outages import describe_failure, is_unavailable
from .settings import KavachSettings

VERSION_TABLE = "kavach_alembic_version"

# A server that answers but will not let this URL in: a wrong user or password (class 28), a
# database that does not exist (3D000). A mistake in KAVACH_DATABASE_URL, not an outage.
_REFUSED_SQLSTATES = ("28", "3D000")
_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """The Alembic configuration of the package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrades_at_start(settings: KavachSettings) -> bool:
    """Whether an app with these settings brings its schema up to date as it starts:
    ``KAVACH_AUTO_MIGRATE``, or when it is unset, only for SQLite."""
    if settings.auto_migrate is not None:
        return settings.auto_migrate
    return is_sqlite(settings.database_url)


def head_revision() -> str:
    """The newest schema revision this version of the package knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def schema_behind(database: Database, current: str | None, then: str) -> str:
    """What to do about a database whose kavach schema is at ``current``, not the newest: the
    one message of the app's start-up and of the commands, ``then`` saying what follows
    ``kavach db upgrade`` (", then start the app again.", " first. Nothing was changed.")."""
    state = "has no kavach tables" if current is None else f"is at schema revision {current}"
    return (
        f"The database {describe_database(database.url)} {state}, and this version of "
        f"kavach-fastapi needs {head_revision()}: run `kavach db upgrade` with the same "
        f"KAVACH_DATABASE_URL{then}"
    )


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _upgrade(connection: Connection, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, target)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision of the database; ``None`` when it has no kavach tables yet."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str]:
    """Bring the database to ``target`` (the newest revision by default).

    Returns:
        The revision before and after.
    """
    async with engine.begin() as connection:
        before = await connection.run_sync(_current)
        await connection.run_sync(_upgrade, target)
        after = await connection.run_sync(_current)
    return before, after or ""


@asynccontextmanager
async def reaching(database: Database) -> AsyncIterator[None]:
    """Run schema work; a database out of reach leaves it as one sentence naming the fix.

    Raises:
        ConfigurationError: the server refused the URL's user, password or database name.
        DatabaseUnavailableError: the database cannot be reached (or its file opened), with
            a message that names it, why, and what to check.
    """
    try:
        yield
    except Exception as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        sqlstate = str(getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None) or "")
        if sqlstate.startswith(_REFUSED_SQLSTATES):
            said = (str(cause).strip().splitlines() or [sqlstate])[0]
            raise ConfigurationError(
                f"The server refused {describe_database(database.url)}: {said}. Check the user "
                "name, password and database name in KAVACH_DATABASE_URL (the database must "
                "exist: create it, then run `kavach db upgrade`)."
            ) from None
        if not is_unavailable(exc):
            raise
        timeout = database.connect_timeout
        why = (
            f"no answer within {timeout:g} s (KAVACH_DATABASE_CONNECT_TIMEOUT)"
            if isinstance(cause, asyncio.TimeoutError)
            else describe_failure(exc)
        )
        raise DatabaseUnavailableError(
            f"Cannot reach {describe_database(database.url)}: {why}. Check KAVACH_DATABASE_URL "
            "and that the database server is running and accepts connections from here."
        ) from None


async def schema_revision(database: Database) -> str | None:
    """The schema revision, without creating anything: a SQLite file that does not exist yet
    has none (``None``).

    Raises:
        DatabaseUnavailableError: the database cannot be reached, in one sentence.
    """
    path = sqlite_file(database.url)
    if path is not None and not path.exists():
        return None
    async with reaching(database):
        return await current_revision(database.engine)
