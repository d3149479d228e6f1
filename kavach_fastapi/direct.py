"""Hot-path reads straight on the driver: one compiled Core statement, no ORM, no thread hop.

A session check that misses the process's memory costs one indexed read. Through SQLAlchemy's
async engine that read pays for a greenlet, the ORM-free result machinery and, on SQLite, a hop
to aiosqlite's thread and back: measured at about 60 times the same SQL through ``sqlite3``,
and 5 times the same SQL through asyncpg. `DirectReads` runs such a read:

* on SQLite, through a ``sqlite3`` connection of its own, on the calling thread. A point read
  by primary key in WAL mode never waits for writers, takes microseconds, and so costs the event
  loop less than handing it to a thread. Its busy timeout is short: should SQLite ever make a
  reader wait (a WAL recovery), the read fails over to the engine, which waits in a thread;
* on PostgreSQL, on the asyncpg connection under one SQLAlchemy connection that stays checked
  out of the pool for these reads (a read that finds it busy takes another from the pool), with
  asyncpg's prepared-statement cache.

Values come back through the statement's own column types, so a row reads the same as through
the engine. Errors are the driver's: `kavach_fastapi.database.Database.direct_read` translates
an outage into a 503 in the one place that does that.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from sqlalchemy import Select
    from typing_extensions import Unpack

AnySelect: TypeAlias = "Select[Unpack[tuple[Any, ...]]]"
"""A Core SELECT of any columns."""

READER_BUSY_MS = 5
"""How long the SQLite reader waits for a lock before the read goes through the engine."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    """The statement's parameters, in the driver's positional order."""
    defaults: dict[str, Any]
    """The values bound in the statement itself (literals, ``LIMIT``)."""
    converters: tuple[Callable[[Any], Any] | None, ...]
    """Per column, what turns the driver's value into the column type's (``None``: as is)."""


class DirectReads:
    """Runs read-only Core statements straight on the driver, falling back to the engine.

    Args:
        engine: the database's engine (its dialect compiles the statements; its pool serves
            PostgreSQL reads and every fallback).
        sqlite_path: the SQLite file; ``None`` for PostgreSQL, in-memory SQLite or a ``uri``
            URL (these read through the engine or the pooled driver connection).
    """

    def __init__(self, engine: AsyncEngine, sqlite_path: Path | None) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._postgres = engine.dialect.name == "postgresql"
        self._sqlite_path = sqlite_path
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_lock = threading.Lock()
        self._compiled: dict[int, _Compiled] = {}
        self._held: AsyncConnection | None = None
        self._held_driver: Any = None
        self._held_loop: asyncio.AbstractEventLoop | None = None
        self._held_busy = False

    def _compile(self, statement: AnySelect) -> _Compiled:
        key = id(statement)
        compiled = self._compiled.get(key)
        if compiled is None:
            done = statement.compile(dialect=self._dialect)
            converters = tuple(
                column.type.dialect_impl(self._dialect).result_processor(self._dialect, None)
                for column in statement.selected_columns
            )
            compiled = _Compiled(
                str(done), tuple(done.positiontup or ()), dict(done.params), converters
            )
            # Statements are module constants, so their ids stay theirs.
            self._compiled[key] = compiled
        return compiled

    async def rows(
        self, statement: AnySelect, params: Mapping[str, Any]
    ) -> Sequence[tuple[Any, ...]]:
        """Every row the statement reads, as tuples of the columns' values."""
        compiled = self._compile(statement)
        values = {**compiled.defaults, **params}
        arguments = [values[name] for name in compiled.names]
        raw: Sequence[tuple[Any, ...]] | None
        if self._sqlite_path is not None:
            raw = self._sqlite_rows(compiled.sql, arguments)
            if raw is None:
                return await self._engine_rows(statement, params)
        elif self._postgres:
            raw = await self._postgres_rows(compiled.sql, arguments)
        else:
            return await self._engine_rows(statement, params)
        return [_convert(row, compiled.converters) for row in raw]

    def _sqlite_rows(self, sql: str, arguments: list[Any]) -> list[tuple[Any, ...]] | None:
        """The rows on this thread, or ``None`` when the reader is busy or SQLite made it wait."""
        if not self._sqlite_lock.acquire(blocking=False):
            return None  # another thread is using it: that read goes through the engine
        try:
            connection = self._sqlite
            if connection is None:
                connection = self._sqlite = _open_reader(self._sqlite_path)
            try:
                return connection.execute(sql, arguments).fetchall()
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return None
                raise
        finally:
            self._sqlite_lock.release()

    async def _postgres_rows(self, sql: str, arguments: list[Any]) -> Sequence[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        if not self._held_busy and self._held_loop in (None, loop):
            # One pooled connection stays checked out for these reads: no checkout per read.
            self._held_busy = True
            try:
                if self._held is None:
                    held = await self._engine.connect()
                    raw = await held.get_raw_connection()
                    self._held, self._held_driver, self._held_loop = (
                        held,
                        raw.driver_connection,
                        loop,
                    )
                try:
                    records = await self._held_driver.fetch(sql, *arguments)
                except BaseException:
                    await self._drop_held()  # the pool makes a fresh one next time
                    raise
            finally:
                self._held_busy = False
            return [tuple(record) for record in records]
        # Another read holds it (or another event loop runs): a connection from the pool.
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None  # noqa: S101 - a checked-out connection has one
            try:
                records = await driver.fetch(sql, *arguments)
            except BaseException:
                # SQLAlchemy did not see this failure: a read cut short (the server going away,
                # a cancelled request) can leave asyncpg mid-protocol, and such a connection
                # back in the pool fails the next query with an InternalClientError.
                with contextlib.suppress(Exception):
                    await connection.invalidate()
                raise
        return [tuple(record) for record in records]

    async def _engine_rows(
        self, statement: AnySelect, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        async with self._engine.connect() as connection:
            result = await connection.execute(statement, dict(params))
            return [tuple(row) for row in result.all()]

    async def _drop_held(self) -> None:
        held, self._held, self._held_driver, self._held_loop = self._held, None, None, None
        if held is not None:
            with contextlib.suppress(Exception):
                await held.invalidate()
                await held.close()

    async def aclose(self) -> None:
        """Give back the held PostgreSQL connection and close the SQLite reader."""
        if self._held is not None:
            held, self._held, self._held_driver, self._held_loop = self._held, None, None, None
            with contextlib.suppress(Exception):
                await held.close()
        with self._sqlite_lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None


def _open_reader(path: Path | None) -> sqlite3.Connection:
    assert path is not None  # noqa: S101 - only called for a SQLite file
    # mode=rw: never create a missing file (the engine creates it, owner-only). Not mode=ro:
    # a read-only connection cannot rebuild WAL's shared-memory file once the others closed.
    connection = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=rw", uri=True, check_same_thread=False
    )
    connection.isolation_level = None
    connection.execute(f"PRAGMA busy_timeout={READER_BUSY_MS}")
    connection.execute("PRAGMA query_only=ON")
    return connection


def _convert(
    row: Sequence[Any], converters: Sequence[Callable[[Any], Any] | None]
) -> tuple[Any, ...]:
    return tuple(
        value if convert is None else convert(value)
        for value, convert in zip(row, converters, strict=True)
    )
