"""The database: engine set-up, async URLs, SQLite files, units of work and outages, in one place.

Async all the way (aiosqlite for SQLite, asyncpg for PostgreSQL), so a request never blocks the
event loop. SQLite runs with WAL, a busy timeout and foreign keys on, and write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue for the lock instead of failing with
"database is locked" half-way through.

Database outages are told apart from bugs by `kavach_fastapi.outages`: every unit of work
(`Database.transaction`, `Database.reader`, `Database.autocommit`) runs inside its watch, so an
outage is a 503 and one log line, never a traceback per request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import StaticPool

from .database_urls import async_database_url, missing_driver, sqlite_file
from .direct import AnySelect, DirectReads
from .outages import OutageWatch
from .settings import DEFAULT_DATABASE_CONNECT_TIMEOUT, DEFAULT_SQLITE_BUSY_TIMEOUT, KavachSettings

logger = logging.getLogger("kavach_fastapi")


_WRITE = "kavach_write"


def _sqlite_connect(dbapi_connection: Any, busy_timeout: float) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted and overwritten content is zeroed, not left in free space: erasing a person
    # (`kavach_fastapi.privacy`) must leave no copy of an old row, even one an update left.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writes take the lock up front; single-statement reads run in SQLite's autocommit mode,
    # which is already consistent and saves a round trip to the driver's thread.
    if connection.get_execution_options().get(_WRITE, False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create_owner_only(path: Path) -> None:
    """Create an empty SQLite file readable by its owner only, unless it exists.

    SQLite would create it with 0644 (less the umask), and gives its ``-wal`` and ``-shm``
    files the main file's permissions, so creating it first makes all three private. An
    existing file keeps the mode its owner gave it. Failures are SQLite's to report.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(descriptor)


def create_engine(
    database_url: str,
    *,
    busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT,
    connect_timeout: float = DEFAULT_DATABASE_CONNECT_TIMEOUT,
) -> AsyncEngine:
    """An async engine for the URL, with SQLite tuned for concurrent web workers.

    Nothing is connected or created yet: a SQLite file and its folder appear at the first
    connection.

    Args:
        database_url: a SQLAlchemy URL; the async driver is added when it is missing.
        busy_timeout: seconds a SQLite write waits for another writer's lock.
        connect_timeout: seconds to wait for PostgreSQL to accept a connection.

    Raises:
        ConfigurationError: the URL is invalid, or its driver is not installed.
    """
    url = async_database_url(database_url)
    try:
        return _create_engine(url, database_url, busy_timeout, connect_timeout)
    except ImportError as exc:
        raise missing_driver(database_url, exc) from None


def _connect_timeout(url: str, seconds: float) -> dict[str, Any]:
    # asyncpg's own default is 60 s, libpq's none: an unreachable server would hang start-up.
    driver = make_url(url).get_driver_name()
    if driver == "asyncpg":
        return {"timeout": seconds}
    if driver == "psycopg":
        return {"connect_timeout": max(1, round(seconds))}
    return {}


def _create_engine(
    url: str, database_url: str, busy_timeout: float, connect_timeout: float
) -> AsyncEngine:
    if not url.startswith("sqlite"):
        # No pre-ping (it costs three round trips per checkout): connections are recycled,
        # and one the server closed (a restart) is replaced at checkout for free.
        engine = create_async_engine(
            url,
            pool_recycle=1800,
            hide_parameters=True,
            connect_args=_connect_timeout(url, connect_timeout),
        )
        replace_connections_closed_while_idle(engine)
        return engine
    path = sqlite_file(database_url)
    in_memory = path is None
    engine = create_async_engine(
        url,
        connect_args={"check_same_thread": False},
        hide_parameters=True,
        # Every write ends in an explicit COMMIT or ROLLBACK, and reads run in autocommit
        # mode, so a returned connection has nothing to roll back.
        pool_reset_on_return=None,
        **({"poolclass": StaticPool} if in_memory else {}),
    )
    if path is not None:
        file, plain = path, not make_url(database_url).query.get("uri")

        def before_connect(*_args: Any) -> None:
            file.parent.mkdir(parents=True, exist_ok=True)
            if plain:
                _create_owner_only(file)

        # Before every new connection, not only the first: a file deleted while the app runs
        # would otherwise come back with SQLite's default mode.
        event.listen(engine.sync_engine, "do_connect", before_connect)
    event.listen(
        engine.sync_engine,
        "connect",
        lambda dbapi_connection, _record: _sqlite_connect(dbapi_connection, busy_timeout),
    )
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def replace_connections_closed_while_idle(engine: AsyncEngine) -> None:
    """Have the pool replace, at checkout, a connection the server closed while it was idle.

    After a database restart every pooled connection is dead; without this the first query on
    each would fail. asyncpg notices the server's goodbye without a round trip
    (``is_closed()``), so the check is free, unlike a pre-ping's three round trips. The pool
    reconnects when a checkout listener raises ``DisconnectionError``.
    """

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        is_closed = getattr(driver, "is_closed", None)
        if callable(is_closed) and is_closed():
            raise DisconnectionError("the server closed this connection while it was idle")

    event.listen(engine.sync_engine, "checkout", on_checkout)


class Database:
    """One app's database: its engine and the units of work every query runs in.

    Args:
        database_url: a SQLAlchemy URL; the async driver is added when it is missing.
        busy_timeout: seconds a SQLite write waits for another writer's lock before the
            request is answered 503 ``database_unavailable``.
        connect_timeout: seconds to wait for PostgreSQL to accept a connection.
    """

    def __init__(
        self,
        database_url: str,
        *,
        busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT,
        connect_timeout: float = DEFAULT_DATABASE_CONNECT_TIMEOUT,
    ) -> None:
        self.url = database_url
        self.connect_timeout = connect_timeout
        self.engine = create_engine(
            database_url, busy_timeout=busy_timeout, connect_timeout=connect_timeout
        )
        self.writer = self.engine.execution_options(**{_WRITE: True})
        """The engine for write transactions (``BEGIN IMMEDIATE`` on SQLite)."""
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.outages = OutageWatch()
        file = sqlite_file(database_url)
        direct_file = None if file is None or make_url(database_url).query.get("uri") else file
        self._direct = DirectReads(self._autocommit, direct_file)

    @classmethod
    def from_settings(cls, settings: KavachSettings) -> Database:
        """The database of the settings, opened as the app opens it (nothing is connected yet).

        Raises:
            ConfigurationError: the URL is invalid, or its driver is not installed.
        """
        return cls(
            settings.database_url,
            busy_timeout=settings.sqlite_busy_timeout,
            connect_timeout=settings.database_connect_timeout,
        )

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self._direct.aclose()
        await self.engine.dispose()

    async def direct_read(
        self, statement: AnySelect, params: Mapping[str, Any]
    ) -> Sequence[tuple[Any, ...]]:
        """The rows of one hot-path read, straight on the driver (see `kavach_fastapi.direct`).

        Raises:
            DatabaseUnavailableError: the database cannot be reached.
        """
        async with self.outages.watch():
            return await self._direct.rows(statement, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Raises:
            DatabaseUnavailableError: the database cannot be reached or stays locked.
        """
        async with (
            self.outages.watch(),
            AsyncSession(self.writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work.

        Raises:
            DatabaseUnavailableError: the database cannot be reached.
        """
        async with (
            self.outages.watch(),
            AsyncSession(self.engine, expire_on_commit=False) as session,
        ):
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit mode, for a single hot-path read without the ORM.

        Raises:
            DatabaseUnavailableError: the database cannot be reached.
        """
        async with self.outages.watch(), self._autocommit.connect() as connection:
            yield connection
