"""Database outages told apart from bugs, and said once in the log.

When the database cannot be reached (PostgreSQL stopped or restarting, a network that drops
connections, a SQLite file that cannot be opened or stays locked past the busy timeout), every
unit of work of `kavach_fastapi.database.Database` fails with
[`DatabaseUnavailableError`][kavach_fastapi.DatabaseUnavailableError] (503 with ``Retry-After``),
translated here in `OutageWatch.watch`; the log says once that the outage started and once that
it ended, instead of a traceback per request. Anything else (a missing table, a constraint, a
bug) still fails loudly.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .errors import DatabaseUnavailableError

logger = logging.getLogger("kavach_fastapi")

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
    resource or shutdown classes; an asyncpg connection found closed or ended by the server
    (`_driver_connection_gone`); SQLite that cannot open its file, stays locked past the busy
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
    if _driver_connection_gone(cause):
        return True
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    return isinstance(exc, OperationalError)


def _driver_connection_gone(cause: BaseException) -> bool:
    """asyncpg's own errors for a connection the server went away from, met by reads straight
    on the driver (`kavach_fastapi.direct`); they carry no SQLSTATE.

    ``InterfaceError`` "connection is closed": the socket was seen closed. ``InternalClientError``
    ("another operation (2) is in progress"): PostgreSQL sends its FATAL goodbye (a shutdown,
    a crash) to idle connections too, just before closing the socket, and a query started in
    between finds asyncpg still consuming that unawaited error.
    """
    kind = type(cause)
    if not kind.__module__.startswith("asyncpg"):
        return False
    if kind.__name__ == "InternalClientError":
        return True
    return kind.__name__ == "InterfaceError" and "closed" in str(cause).lower()


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
