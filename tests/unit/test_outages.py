"""Which database failures are an outage (503, logged once) and which are bugs (500, traceback)."""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from kavach_fastapi.outages import is_unavailable


class DriverError(Exception):
    """A driver's exception carrying a SQLSTATE, as asyncpg's do."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(cls: type[DBAPIError], orig: Exception, *, invalidated: bool = False) -> DBAPIError:
    """A driver's exception as SQLAlchemy raises it."""
    return cls("SELECT 1", {}, orig, connection_invalidated=invalidated)


OUTAGES = {
    "a-dropped-connection": wrapped(DBAPIError, Exception("closed"), invalidated=True),
    "asyncpg-connection-refused": ConnectionRefusedError(111, "Connect call failed"),
    "a-connect-timeout": TimeoutError(),
    "a-pool-timeout": PoolTimeoutError("QueuePool limit reached"),
    "server-shutting-down": wrapped(DBAPIError, DriverError("57P01")),
    "server-starting-up": DriverError("57P03"),
    "connection-failure": wrapped(DBAPIError, DriverError("08006")),
    "too-many-connections": wrapped(DBAPIError, DriverError("53300")),
    "another-driver-operational-error": wrapped(OperationalError, Exception("server closed")),
    "sqlite-unable-to-open": wrapped(
        OperationalError, sqlite3.OperationalError("unable to open database file")
    ),
    "sqlite-locked": wrapped(OperationalError, sqlite3.OperationalError("database is locked")),
    "sqlite-disk-io": wrapped(OperationalError, sqlite3.OperationalError("disk I/O error")),
    # Straight on the driver (the hot-path session read), not wrapped by SQLAlchemy.
    "asyncpg-connection-closed": asyncpg.InterfaceError("connection is closed"),
    "asyncpg-closed-mid-query": asyncpg.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    ),
    # The server's FATAL goodbye arrived on an idle connection before its socket closed.
    "asyncpg-ended-by-the-server": asyncpg.exceptions._base.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
}

BUGS = {
    "sqlite-missing-table": wrapped(
        OperationalError, sqlite3.OperationalError("no such table: kavach_sessions")
    ),
    "sqlite-syntax": wrapped(OperationalError, sqlite3.OperationalError('near "x": syntax error')),
    "a-unique-violation": wrapped(IntegrityError, DriverError("23505")),
    "a-missing-relation": wrapped(ProgrammingError, DriverError("42P01")),
    "a-plain-bug": ValueError("not a database problem"),
    "asyncpg-misuse": asyncpg.InterfaceError("the server expects 1 argument, 2 were passed"),
}


@pytest.mark.parametrize("failure", OUTAGES.values(), ids=OUTAGES.keys())
def test_a_database_out_of_reach_is_an_outage(failure: Exception) -> None:
    assert is_unavailable(failure)


@pytest.mark.parametrize("failure", BUGS.values(), ids=BUGS.keys())
def test_a_failure_with_a_reachable_database_is_not_an_outage(failure: Exception) -> None:
    assert not is_unavailable(failure)
