"""A database outage is an outage, not a crash.

While the database cannot be used, whatever needs it answers 503 ``database_unavailable`` with
``Retry-After`` and the package's JSON error; sessions this process checked shortly before keep
working; the log says once that the outage started and once that it ended, never a traceback;
and the requests after it ends succeed.

Here on SQLite, in-process: a database file that cannot be opened any more, and one that another
connection keeps locked past the busy timeout. ``test_postgres_outage.py`` stops a PostgreSQL
server under load.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI

from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import ACCOUNTS, AUTHORIZE, SIGN_OUT, browser, build_app, running, sign_in

OUTAGE_STARTED = "database cannot be reached"
OUTAGE_ENDED = "database is reachable again"


def assert_unavailable(response: httpx2.Response) -> None:
    """The answer of something that needs the database during an outage."""
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"]["code"] == "database_unavailable"
    assert "Traceback" not in response.text


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if OUTAGE_STARTED in record.getMessage() or OUTAGE_ENDED in record.getMessage()
    ]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [record for record in caplog.records if record.exc_info or record.stack_info]
    assert logged == [], [record.getMessage() for record in logged]


@contextmanager
def unopenable(folder: Path) -> Iterator[None]:
    """The database's folder is moved away and a file takes its name, so nothing can open the
    database (root ignores permission bits, but not a path through a file); then it is put back.
    """
    away = folder.with_name(folder.name + ".away")
    folder.rename(away)
    folder.write_text("not a folder")
    try:
        yield
    finally:
        folder.unlink()
        away.rename(folder)


async def new_connections_only(app: FastAPI) -> None:
    """Close the pooled connections, which hold the old file open, as a pool recycle or a new
    worker would: the next queries must open the file again."""
    await app.state.kavach.store.dispose()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


async def test_a_database_that_cannot_be_opened_answers_503_and_recovers(
    folder: Path, emulator: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kavach_fastapi")
    app = build_app(folder / "kavach.db", emulator, session_cache_seconds=0)

    async with running(app), browser(app) as person, browser(app) as newcomer:
        await sign_in(person, emulator)
        with unopenable(folder):
            await new_connections_only(app)
            answers = [
                await person.get("/me"),
                await person.get(ACCOUNTS),
                await newcomer.get(AUTHORIZE),
                await newcomer.get("/me", headers={"Authorization": "Bearer not-one-we-know"}),
            ]
        for answer in answers:
            assert_unavailable(answer)
        assert len(outage_lines(caplog)) == 1
        assert OUTAGE_STARTED in outage_lines(caplog)[0]

        await asyncio.sleep(1.1)  # the outage ends with a success a moment after the last failure
        assert (await person.get("/me")).status_code == 200
        assert (await person.get(ACCOUNTS)).status_code == 200
        assert (await newcomer.get(AUTHORIZE)).status_code == 302

    assert_no_traceback(caplog)
    lines = outage_lines(caplog)
    assert len(lines) == 2
    assert OUTAGE_STARTED in lines[0]
    assert OUTAGE_ENDED in lines[1]


async def test_sessions_checked_shortly_before_keep_working_within_their_bound(
    folder: Path, emulator: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    idle_timeout = timedelta(seconds=2)
    app = build_app(
        folder / "kavach.db",
        emulator,
        session_cache_seconds=0.05,
        session_idle_timeout=idle_timeout,
    )

    async with running(app), browser(app) as regular, browser(app) as stranger:
        await sign_in(regular, emulator)
        await sign_in(stranger, emulator)
        assert (await regular.get("/me")).status_code == 200  # checked, so remembered
        with unopenable(folder):
            await new_connections_only(app)
            await asyncio.sleep(0.1)  # past the cache's second: the database would be asked

            remembered = await regular.get("/me")
            never_checked = await stranger.get("/me")
            needs_the_database = await regular.get(ACCOUNTS)
            # The bound: never longer than the session's idle timeout since its last check.
            await asyncio.sleep(idle_timeout.total_seconds())
            too_long_ago = await regular.get("/me")

    assert remembered.status_code == 200
    assert_unavailable(never_checked)
    assert_unavailable(needs_the_database)
    assert_unavailable(too_long_ago)
    assert_no_traceback(caplog)


async def test_a_database_locked_past_the_busy_timeout_answers_503(
    folder: Path, emulator: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    database = folder / "kavach.db"
    app = build_app(database, emulator, sqlite_busy_timeout=0.2)

    async with running(app), browser(app) as person, browser(app) as newcomer:
        await sign_in(person, emulator)
        holder = sqlite3.connect(database, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            locked = [await newcomer.get(AUTHORIZE), await person.post(SIGN_OUT)]
            reads = await person.get("/me")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        after = await newcomer.get(AUTHORIZE)

    for answer in locked:
        assert_unavailable(answer)
    assert reads.status_code == 200  # WAL: readers are not blocked by a writer
    assert after.status_code == 302
    assert_no_traceback(caplog)
    assert len([line for line in outage_lines(caplog) if OUTAGE_STARTED in line]) == 1
