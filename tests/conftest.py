"""Shared by every test folder: a clean environment, pytester, and the databases tests run on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .databases import (
    TestDatabase,
    empty_postgres_database,
    postgres_database,
    postgres_server,
    sqlite_database,
)
from .support.environment import isolate

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``ATLASSIAN_*``/``KAVACH_*`` variable or stray ``.env`` file changes a default.

    Every test runs in its own empty working directory, so a ``.env`` where pytest was started
    is never read; a test that wants settings passes them to the app, or sets them itself.
    """
    isolate(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the whole run (created, migrated, dropped)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """The database of one test: a new SQLite file, then the run's PostgreSQL, emptied."""
    if request.param == "sqlite":
        database = sqlite_database(tmp_path / "kavach.db")
    else:
        database = postgres_database(request.getfixturevalue("postgres_url"))
    with database:
        yield database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database without kavach tables: a new SQLite file, or a new PostgreSQL database.

    For tests of ``kavach db upgrade`` and the schema check; the PostgreSQL one is made for
    the test alone (it costs a ``CREATE DATABASE``), and skips like ``db`` when the server
    cannot be reached.
    """
    if request.param == "sqlite":
        with sqlite_database(tmp_path / "kavach.db") as database:
            yield database
    else:
        with empty_postgres_database() as database:
            yield database
