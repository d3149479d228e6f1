"""Database URLs as a person reads them, and the line that installs a missing driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from kavach_fastapi.database_urls import describe_database, missing_driver


def test_a_relative_sqlite_file_is_described_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert describe_database("sqlite:///data/kavach.db") == (
        f"sqlite:///data/kavach.db (the file {tmp_path / 'data' / 'kavach.db'})"
    )


def test_a_server_database_is_described_without_its_password() -> None:
    assert describe_database("postgresql://app:hunter2@db/kavach") == (
        "postgresql://app:***@db/kavach"
    )


def test_an_in_memory_database_names_no_file() -> None:
    assert describe_database("sqlite://") == "sqlite://"


def test_a_missing_postgresql_driver_names_the_extra_that_installs_it() -> None:
    error = missing_driver("postgresql://db/kavach", ModuleNotFoundError(name="asyncpg"))

    assert error.message.endswith(
        'driver asyncpg is not installed: pip install "kavach-fastapi[postgres]"'
    )
