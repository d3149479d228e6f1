"""The databases tests run on: a SQLite file, and a fresh PostgreSQL database per test run.

Tests talk to the database behind the app's back through :class:`TestDatabase` (counting rows,
ageing a session), with SQL that works on both: timestamps go in as bound parameters typed like
the package's own columns, never as ``datetime('now')`` or ``now()``.

PostgreSQL is the machine's server (``KAVACH_TEST_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/postgres``). When it cannot be reached the PostgreSQL
half skips with the reason, except under CI (``CI`` set), where that is a failure. A test that
stops and starts PostgreSQL gets a server of its own (:func:`private_postgres_server`).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from kavach_fastapi.migrate import upgrade
from kavach_fastapi.store import Store
from kavach_fastapi.tables import UTCDateTime, metadata, utcnow

ADMIN_URL = os.environ.get("KAVACH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = tuple(table.name for table in reversed(metadata.sorted_tables))


def ago(**delta: float) -> datetime:
    """An aware UTC time in the past, e.g. ``ago(minutes=5)``."""
    return utcnow() - timedelta(**delta)


@dataclass
class TestDatabase:
    """One database the app under test uses, and a side door into it."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    kind: str
    url: str
    engine: Engine
    path: Path | None = None

    def __enter__(self) -> TestDatabase:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Close the side door's connections (``with`` it in a fixture)."""
        self.engine.dispose()

    def execute(self, sql: str, **params: Any) -> None:
        """Run a statement; ``datetime`` parameters are stored as the package stores them."""
        with self.engine.begin() as connection:
            connection.execute(self._statement(sql, params), params)

    def scalar(self, sql: str, **params: Any) -> Any:
        """The first column of the first row of a query."""
        with self.engine.connect() as connection:
            return connection.execute(self._statement(sql, params), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Every row of a query."""
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(self._statement(sql, params), params)]

    def count(self, table: str) -> int:
        """Rows in one of the package's tables."""
        return int(self.scalar(f"SELECT COUNT(*) FROM {table}"))  # noqa: S608 - our own names

    def records(self, table: str, *, order_by: str | None = None) -> list[dict[str, Any]]:
        """Every row of one of the package's tables, typed as the package reads them.

        Timestamps come back as aware UTC datetimes and flags as booleans on both databases,
        so rows read before and after a request compare equal exactly when nothing changed.
        """
        columns = metadata.tables[table]
        with self.engine.connect() as connection:
            # Only the columns the schema has yet: a database at an older revision lacks some.
            present = {column["name"] for column in inspect(connection).get_columns(table)}
            statement = select(*(column for column in columns.c if column.name in present))
            if order_by is not None:
                statement = statement.order_by(columns.c[order_by])
            return [dict(row._mapping) for row in connection.execute(statement)]

    def at_rest(self) -> bytes:
        """What the database keeps, to search for secrets that must never be stored in clear.

        On SQLite, the bytes of the file and its WAL (:meth:`raw_bytes`). On PostgreSQL, whose
        files are not ours to read, every value of every column of every kavach table as text,
        found through the catalogue so that a column the models do not know is searched too.
        """
        if self.path is not None:
            return self.raw_bytes()
        with self.engine.connect() as connection:
            columns = connection.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name LIKE 'kavach\\_%' "
                    "ORDER BY table_name, ordinal_position"
                )
            ).all()
            values = [
                value
                for table, column in columns
                for (value,) in connection.execute(
                    text(f'SELECT CAST("{column}" AS TEXT) FROM "{table}"')  # noqa: S608
                )
                if value is not None
            ]
        assert columns, "no kavach tables found"
        return "\n".join(values).encode()

    def raw_bytes(self) -> bytes:
        """Everything the database keeps on disk (SQLite only: the file and its WAL)."""
        if self.path is None:
            pytest.skip("reading the raw database file is a SQLite-only check")
        return b"".join(
            path.read_bytes()
            for path in self.path.parent.iterdir()
            if path.name.startswith(self.path.name)
        )

    def clear(self) -> None:
        """Empty every kavach table."""
        with self.engine.begin() as connection:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own names

    @staticmethod
    def _statement(sql: str, params: dict[str, Any]) -> Any:
        statement = text(sql)
        typed = [
            bindparam(name, type_=UTCDateTime())
            for name, value in params.items()
            if isinstance(value, datetime)
        ]
        return statement.bindparams(*typed) if typed else statement


def sqlite_database(path: Path) -> TestDatabase:
    """A SQLite file; the app creates its schema at start-up."""
    return TestDatabase(
        kind="sqlite",
        url=f"sqlite:///{path}",
        engine=create_engine(f"sqlite:///{path}"),
        path=path,
    )


def _psycopg(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@contextmanager
def postgres_server(*, migrate: bool = True) -> Iterator[str]:
    """A fresh PostgreSQL database, upgraded to the newest schema unless ``migrate`` is false.

    Yields its URL; drops the database afterwards. Skips the test (fails it under CI) when the
    server cannot be reached.
    """
    admin = create_engine(_psycopg(ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the server means the same here
        admin.dispose()
        reason = f"PostgreSQL is not reachable at {ADMIN_URL} ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL half")
        pytest.skip(reason)
    name = f"kavach_test_{os.getpid()}_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            asyncio.run(upgrade_schema(url))
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def upgrade_schema(url: str) -> None:
    """Bring a database to the package's newest schema, as ``kavach db upgrade`` does.

    The benchmarks in ``bench/`` prepare their scratch databases with it too.
    """
    store = Store(url)
    try:
        await upgrade(store.database.writer)
    finally:
        await store.dispose()


@contextmanager
def empty_postgres_database() -> Iterator[TestDatabase]:
    """A new PostgreSQL database without kavach tables (for tests of migrations); dropped after."""
    with (
        postgres_server(migrate=False) as url,
        TestDatabase(kind="postgresql", url=url, engine=create_engine(_psycopg(url))) as found,
    ):
        yield found


def postgres_database(url: str) -> TestDatabase:
    """The run's PostgreSQL database, emptied for one test."""
    database = TestDatabase(kind="postgresql", url=url, engine=create_engine(_psycopg(url)))
    database.clear()
    return database


# A PostgreSQL server of a test's own, to stop and start (tests of database outages)

POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
"""Where Debian puts each PostgreSQL version's ``initdb`` and ``pg_ctl``, newest first."""


@dataclass
class PrivateServer:
    """A PostgreSQL cluster in a temporary folder, run by the ``postgres`` OS user when the
    tests run as root (``initdb`` refuses root), listening on 127.0.0.1 only."""

    url: str
    control: list[str]
    """The `pg_ctl` command line for this cluster, without its action."""

    def stop(self) -> None:
        """Stop at once: sessions are ended and connections dropped (``pg_ctl -m fast``)."""
        self._run("stop", "-m", "fast")

    def start(self) -> None:
        """Start again and wait until it accepts connections."""
        self._run("start")

    def _run(self, *arguments: str) -> None:
        subprocess.run(  # noqa: S603 - the PostgreSQL tools and our own arguments
            [*self.control, *arguments], check=True, capture_output=True, timeout=60
        )


@contextmanager
def private_postgres_server() -> Iterator[PrivateServer]:
    """Yield a migrated PostgreSQL server of the test's own; destroyed afterwards.

    Skips the test when it cannot be made (no PostgreSQL binaries, no ``postgres`` user to run
    them as root), except under CI (``CI`` set), where that is a failure.
    """
    initdb = next((folder / "initdb" for folder in POSTGRES_BINARIES), None)
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    problem = None
    if initdb is None or not initdb.exists():
        problem = "no PostgreSQL binaries under /usr/lib/postgresql"
    elif as_postgres and not _os_user_exists("postgres"):
        problem = "running as root, and there is no postgres user to run initdb as"
    if problem is not None:
        reason = f"cannot run a private PostgreSQL server: {problem}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the outage tests")
        pytest.skip(reason)
    assert initdb is not None
    folder = Path(tempfile.mkdtemp(prefix="kavach-pg-"))
    if as_postgres:
        shutil.chown(folder, user="postgres")
    data, port = folder / "data", _free_port()
    subprocess.run(  # noqa: S603 - the PostgreSQL tools and our own arguments
        [*as_postgres, str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*as_postgres, str(initdb.with_name("pg_ctl")), "-D", str(data), "-w"]
    server = PrivateServer(
        url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        control=[*pg_ctl, "-l", str(folder / "server.log"), "-o", options],
    )
    try:
        server.start()
        asyncio.run(upgrade_schema(server.url))
        yield server
    finally:
        subprocess.run(  # noqa: S603 - the PostgreSQL tools and our own arguments
            [*pg_ctl, "stop", "-m", "immediate"], capture_output=True, timeout=60, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


def _os_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
