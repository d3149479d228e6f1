"""Database URLs: which database a URL names, its async driver, and how to show it to a person.

Plain values in, plain values out: nothing here connects. A mistake in ``KAVACH_DATABASE_URL``
(a malformed URL, a synchronous driver, PostgreSQL without asyncpg installed) is one
[`ConfigurationError`][kavach_fastapi.ConfigurationError] naming the fix, never a driver's
traceback.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from .errors import ConfigurationError

ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
"""The async driver of each supported database."""

_SYNC_DRIVERS = ("pysqlite", "psycopg2", "pg8000")

_INSTALL = {
    "asyncpg": 'pip install "kavach-fastapi[postgres]"',
    "aiosqlite": 'pip install --force-reinstall "kavach-fastapi"',
}


def database_url_problem(database_url: str) -> str | None:
    """What is wrong with a database URL, or ``None`` when it names a supported database.

    The answer never repeats the URL: it may carry a password.
    """
    try:
        url = make_url(database_url)
    except Exception:  # an ArgumentError, or a ValueError for a port that is not a number
        return (
            "must be a database URL such as sqlite:///kavach.db or "
            "postgresql://user@host:5432/dbname"
        )
    backend = url.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        return f"the {backend!r} database is not supported; use sqlite:/// or postgresql://"
    # The driver as written: asking SQLAlchemy for a default one would load the dialect.
    driver = url.drivername.partition("+")[2]
    if driver in _SYNC_DRIVERS:
        return (
            f"the {driver} driver is synchronous; "
            f"use {backend}+{ASYNC_DRIVERS[backend]}:// or plain {backend}://"
        )
    return None


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL; ``None`` for other databases or in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory:"):
        return None
    return Path(url.database)


def is_sqlite(database_url: str) -> bool:
    """Whether the URL names a SQLite database (file or in memory)."""
    return make_url(database_url).get_backend_name() == "sqlite"


def safe_url(database_url: str) -> str:
    """The URL without its password, to print."""
    return make_url(database_url).render_as_string(hide_password=True)


def describe_database(database_url: str) -> str:
    """The database as a person should read it: the URL without its password, and for a
    SQLite file the absolute path it means (a relative one depends on the working folder,
    which differs between a shell and cron)."""
    path = sqlite_file(database_url)
    shown = safe_url(database_url)
    return shown if path is None else f"{shown} (the file {path.absolute()})"


def async_database_url(database_url: str) -> str:
    """Give a plain SQLAlchemy URL its async driver (``sqlite://`` -> ``sqlite+aiosqlite://``).

    Raises:
        ConfigurationError: the URL is malformed or names a synchronous driver.
    """
    problem = database_url_problem(database_url)
    if problem is not None:
        raise ConfigurationError(f"KAVACH_DATABASE_URL: {problem}.")
    url = make_url(database_url)
    if "+" not in url.drivername:
        backend = url.get_backend_name()
        url = url.set(drivername=f"{backend}+{ASYNC_DRIVERS[backend]}")
    return url.render_as_string(hide_password=False)


def missing_driver(database_url: str, exc: ImportError) -> ConfigurationError:
    """The error for an engine that could not load its driver: the line that installs it."""
    url = make_url(database_url)
    driver = exc.name or url.get_driver_name()
    name = "PostgreSQL" if url.get_backend_name() == "postgresql" else "SQLite"
    install = _INSTALL.get(driver, f"pip install {driver}")
    return ConfigurationError(
        f"KAVACH_DATABASE_URL names a {name} database, and its driver {driver} is not "
        f"installed: {install}"
    )
