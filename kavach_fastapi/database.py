"""The database: engine set-up, async URLs, SQLite files, units of work and outages, in one place.

Async all the way (aiosqlite for SQLite, asyncpg for PostgreSQL), so a request never blocks the
event loop. SQLite runs with WAL, a busy timeout and foreign keys on, and write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue for the lock instead of failing with
"database is locked" half-way through.

Database outages are told apart from bugs here: when the database cannot be reached (PostgreSQL
stopped or restarting, a network that drops connections, a SQLite file that cannot be opened or
stays locked past the busy timeout), every unit of work (`Database.transaction`,
`Database.reader`, `Database.autocommit`) fails with
[`DatabaseUnavailableError`][kavach_fastapi.DatabaseUnavailableError] (503 with ``Retry-After``), translated in
one place, `OutageWatch.watch`; the log says once that the outage started and once that it
ended, instead of a traceback per request. Anything else (a missing table, a constraint, a bug)
still fails loudly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import StaticPool

from .database_urls import async_database_url, missing_driver, sqlite_file
from .direct import AnySelect, DirectReads
from .errors import DatabaseUnavailableError
from .settings import DEFAULT_DATABASE_CONNECT_TIMEOUT, DEFAULT_SQLITE_BUSY_TIMEOUT

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


# Outages

QUIET_SECONDS = 1.0
"""An outage ends with a success this long after the last failure, so one that flickers (some
queries still pass) is logged as one outage, not as many."""

# SQLSTATE classes and codes that mean "cannot talk to the server now": connection exceptions
# (08), insufficient resources such as too many connections (53), and the server shutting
# down, crashing or starting up (57P01-57P03).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")

# SQLite reports everything as OperationalError; only these mean the file is out of reach.
_UNAVAILABLE_SQLITE = ("unable to open database file", "database is locked", "disk i/o error")


def is_unavailable(exc: BaseException) -> bool:
    """Whether a failure means the database cannot be used right now, rather than a bug.

    True for: a connection SQLAlchemy found dropped; a pool that timed out waiting for a
    connection; a socket error or timeout from the driver (asyncpg raises
    ``ConnectionRefusedError`` while PostgreSQL is down); a server SQLSTATE of the connection,
    resource or shutdown classes; SQLite that cannot open its file, stays locked past the busy
    timeout, or fails to read or write it; and any other driver's ``OperationalError``.
    """
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(cause, (OSError, asyncio.TimeoutError)):
        return True
    if isinstance(cause, sqlite3.Error):
        message = str(cause).lower()
        return isinstance(cause, sqlite3.OperationalError) and any(
            known in message for known in _UNAVAILABLE_SQLITE
        )
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    return isinstance(exc, OperationalError)


def describe_failure(exc: BaseException) -> str:
    """The failure in a few words for the log: the driver's exception and its first line."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__


class OutageWatch:
    """Translates outage failures into ``DatabaseUnavailableError`` and logs each outage once.

    One per `Database`, so each process says it once: a warning
    when the first failure arrives, an info line when a query succeeds again (at least
    `QUIET_SECONDS` after the last failure).
    """

    def __init__(self) -> None:
        self._down_since: float | None = None
        self._last_failure = 0.0

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[None]:
        """Run a unit of database work; an outage failure leaves it as a 503 error.

        Raises:
            DatabaseUnavailableError: the database cannot be reached or used now.
        """
        try:
            yield
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self._failed(exc)
            raise DatabaseUnavailableError from exc
        self._succeeded()

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._last_failure = now
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "The database cannot be reached (%s): answering 503 database_unavailable "
                "until it is back.",
                describe_failure(exc),
            )

    def _succeeded(self) -> None:
        if self._down_since is None:
            return
        now = time.monotonic()
        if now - self._last_failure < QUIET_SECONDS:
            return
        logger.info("The database is reachable again, after %.1f s.", now - self._down_since)
        self._down_since = None


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
