"""The SQLite database is private to its owner, like the key file beside it.

It holds every session hash, profile and encrypted token; other local users have no business
reading it. The package creates it owner-only (0600) before SQLite does, and SQLite gives the
``-wal`` and ``-shm`` files the main file's mode. A file that already exists keeps its mode.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import browser, build_app, running, sign_in


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """SQLite's own choice of mode depends on the umask; these tests run with the usual 022."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_a_new_database_and_its_wal_files_are_owner_only(
    tmp_path: Path, emulator: AtlassianEmulator
) -> None:
    database = tmp_path / "data" / "kavach.db"
    app = build_app(database, emulator)

    async with running(app), browser(app) as client:
        await sign_in(client, emulator)
        modes = {path.name: mode(path) for path in database.parent.glob("kavach.db*")}

    assert {"kavach.db", "kavach.db-wal", "kavach.db-shm"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)


async def test_an_existing_database_keeps_the_mode_its_owner_gave_it(
    tmp_path: Path, emulator: AtlassianEmulator
) -> None:
    database = tmp_path / "kavach.db"
    sqlite3.connect(database).close()
    database.chmod(0o640)
    app = build_app(database, emulator)

    async with running(app), browser(app) as client:
        await sign_in(client, emulator)

    assert mode(database) == 0o640
