"""What unauthenticated clients can make the app write is bounded, in size and in number.

Anyone can start a sign-in, and each start writes a row. The values in it come from the request
(the callback URL from ``Host``), so their length is checked before anything is written; the
rows in all are capped by ``KAVACH_MAX_PENDING_SIGN_INS``, and a full table refuses newcomers
rather than dropping someone else's pending sign-in; and expired rows are deleted as part of
normal work, so no table grows without a cron job.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.housekeeping import CATCH_UP, Housekeeper
from kavach_fastapi.migrate import upgrade
from kavach_fastapi.ratelimit import WINDOW_SECONDS
from kavach_fastapi.store import Store
from kavach_fastapi.tables import MAX_URL_LENGTH
from tests.integration.conftest import emulated_app

from ..databases import TestDatabase, ago
from .conftest import (
    ATTACKER_ADDRESS,
    AUTHORIZE,
    SESSION,
    approve,
    browser,
    build_app,
    error_code,
    running,
    start_sign_in,
)

ATTEMPTS = "kavach_sign_in_attempts"
SESSIONS = "kavach_sessions"
COUNTERS = "kavach_rate_limits"
CALLBACK_SUFFIX = "/api/kavach/auth/oauth/callback/atlassian"


@contextmanager
def app_on(db: TestDatabase, **options: Any) -> Iterator[TestClient]:
    """A browser of a freshly started app (a new process, as far as the app can tell) on ``db``.

    The rate limit is off unless ``rate_limit`` is given, so its counters are the test's own.
    """
    options.setdefault("rate_limit", 0)
    app = emulated_app(db, AtlassianEmulator(), **options)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def host_making_a_callback_of(length: int) -> str:
    """A ``Host`` header whose callback URL (``http://HOST/api/kavach/...``) has ``length`` characters."""
    return "h" * (length - len("http://") - len(CALLBACK_SUFFIX))


# Lengths


def test_an_overlong_host_is_refused_with_400_before_anything_is_written(db: TestDatabase) -> None:
    with app_on(db, rate_limit=30) as client:
        response = client.get(AUTHORIZE, headers={"host": "h" * 2100})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert "KAVACH_BASE_URL" in response.json()["error"]["message"]
    assert db.count(ATTEMPTS) == 0
    assert db.count(COUNTERS) == 0, "not even the rate limiter counted it"


def test_a_host_at_the_length_limit_still_starts_a_sign_in(db: TestDatabase) -> None:
    with app_on(db) as client:
        at_limit = client.get(
            AUTHORIZE, headers={"host": host_making_a_callback_of(MAX_URL_LENGTH)}
        )
        over = client.get(
            AUTHORIZE, headers={"host": host_making_a_callback_of(MAX_URL_LENGTH + 1)}
        )

    assert at_limit.status_code == 302, at_limit.text
    assert over.status_code == 400
    assert db.count(ATTEMPTS) == 1


# The total of pending sign-ins


async def test_when_the_pending_sign_ins_are_full_a_new_start_gets_503_and_nobody_loses_theirs(
    database: Path, emulator: AtlassianEmulator
) -> None:
    app = build_app(database, emulator, max_pending_sign_ins=3)
    async with running(app), browser(app) as victim:
        own = await start_sign_in(victim, redirect_to="/mine")
        for _ in range(2):
            async with browser(app, address=ATTACKER_ADDRESS) as flooder:
                await start_sign_in(flooder)
        async with browser(app, address=ATTACKER_ADDRESS) as newcomer:
            refused = await newcomer.get(AUTHORIZE)

        finished = await victim.get(await approve(emulator, own))
        signed_in = (await victim.get(SESSION)).status_code

    assert refused.status_code == 503, refused.text
    assert error_code(refused) == "sign_in_busy"
    assert 1 <= int(refused.headers["retry-after"]) <= 600
    assert not any("kavach_signin" in c for c in refused.headers.get_list("set-cookie"))
    assert finished.headers["location"] == "/mine", "the victim's pending sign-in survived"
    assert signed_in == 200


def test_expired_sign_ins_make_room_before_a_start_is_refused(db: TestDatabase) -> None:
    with app_on(db, max_pending_sign_ins=2) as client:
        for _ in range(2):
            client.cookies.clear()
            assert client.get(AUTHORIZE).status_code == 302
        client.cookies.clear()
        full = client.get(AUTHORIZE)
        db.execute(
            f"UPDATE {ATTEMPTS} SET expires_at = :past",  # noqa: S608 - our own table
            past=ago(seconds=1),
        )
        client.cookies.clear()
        after_expiry = client.get(AUTHORIZE)

    assert full.status_code == 503
    assert full.json()["error"]["code"] == "sign_in_busy"
    assert after_expiry.status_code == 302, after_expiry.text
    assert db.count(ATTEMPTS) == 1, "both expired attempts went, the new one stayed"


def test_the_setting_is_read_from_the_environment(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAVACH_MAX_PENDING_SIGN_INS", "1")
    with app_on(db) as client:
        first = client.get(AUTHORIZE)
        client.cookies.clear()
        second = client.get(AUTHORIZE)

    assert (first.status_code, second.status_code) == (302, 503)


# Housekeeping


def add_user(db: TestDatabase, user_id: str) -> None:
    db.execute(
        "INSERT INTO kavach_users (id, email_verified, created_at, updated_at) "
        "VALUES (:id, false, :at, :at)",
        id=user_id,
        at=ago(days=30),
    )


def add_session(db: TestDatabase, token_hash: str, *, expires: timedelta, idle: timedelta) -> None:
    db.execute(
        f"INSERT INTO {SESSIONS} (token_hash, public_id, user_id, created_at, expires_at, "  # noqa: S608
        "last_active_at) VALUES (:hash, :public_id, :user_id, :created, :expires, :active)",
        hash=token_hash,
        public_id=uuid.uuid4().hex,
        user_id="u" * 32,
        created=ago(days=8),
        expires=ago(seconds=-expires.total_seconds()),
        active=ago(seconds=idle.total_seconds()),
    )


def add_attempt(db: TestDatabase, state_hash: str, *, expires_in: timedelta) -> None:
    db.execute(
        f"INSERT INTO {ATTEMPTS} (state_hash, browser_hash, provider, redirect_uri, "  # noqa: S608
        "redirect_to, created_at, expires_at) VALUES (:state, :browser, 'atlassian', "
        "'http://testserver/cb', '/', :created, :expires)",
        state=state_hash,
        browser="b" * 64,
        created=ago(minutes=20),
        expires=ago(seconds=-expires_in.total_seconds()),
    )


def add_counter(db: TestDatabase, key: str, window: int) -> None:
    db.execute(
        f'INSERT INTO {COUNTERS} (key, "window", count) VALUES (:key, :window, 3)',  # noqa: S608
        key=key,
        window=window,
    )


def seed_expired_and_live_rows(db: TestDatabase) -> None:
    add_user(db, "u" * 32)
    day = timedelta(days=1)
    add_session(db, "expired".ljust(64, "0"), expires=-timedelta(seconds=5), idle=timedelta(0))
    add_session(db, "idle".ljust(64, "0"), expires=day * 5, idle=day * 2)
    add_session(db, "live".ljust(64, "0"), expires=day * 5, idle=timedelta(minutes=1))
    add_attempt(db, "expired".ljust(64, "0"), expires_in=-timedelta(minutes=1))
    add_attempt(db, "live".ljust(64, "0"), expires_in=timedelta(minutes=5))
    window = int(time.time() // WINDOW_SECONDS)
    add_counter(db, "198.51.100.1", window - 5)
    add_counter(db, "198.51.100.2", window - 1)
    add_counter(db, "198.51.100.3", window + 1)


def remaining(db: TestDatabase, table: str, column: str) -> set[str]:
    return {str(value).rstrip("0") for (value,) in db.rows(f"SELECT {column} FROM {table}")}  # noqa: S608


def test_a_sign_in_start_deletes_expired_attempts_sessions_and_old_counters(
    db: TestDatabase,
) -> None:
    with app_on(db) as client:  # the schema exists once the app has started
        seed_expired_and_live_rows(db)
        started = client.get(AUTHORIZE)

    assert started.status_code == 302
    assert remaining(db, SESSIONS, "token_hash") == {"live"}
    assert len(remaining(db, ATTEMPTS, "state_hash")) == 2, "the live one and the new one"
    assert "expired" not in remaining(db, ATTEMPTS, "state_hash")
    assert remaining(db, COUNTERS, "key") == {"198.51.100.2", "198.51.100.3"}


def test_housekeeping_runs_at_most_once_a_minute_in_a_process(db: TestDatabase) -> None:
    with app_on(db) as client:
        assert client.get(AUTHORIZE).status_code == 302
        seed_expired_and_live_rows(db)
        client.cookies.clear()
        assert client.get(AUTHORIZE).status_code == 302

    assert "expired" in remaining(db, SESSIONS, "token_hash"), "the second start did not sweep"


async def test_housekeeping_that_fails_is_logged_in_one_line_and_the_start_succeeds(
    database: Path, emulator: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    app: FastAPI = build_app(database, emulator)
    async with running(app), browser(app) as client:
        # A database that lost a table (a botched restore, say) must not fail sign-ins.
        with sqlite3.connect(database) as connection:
            connection.execute(f"DROP TABLE {COUNTERS}")
        response: httpx2.Response = await client.get(AUTHORIZE)

    assert response.status_code == 302
    failures = [r for r in caplog.records if "housekeeping" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is None, "no traceback"


async def test_a_sweep_deletes_one_small_batch_and_comes_back_soon_while_more_is_waiting(
    db: TestDatabase,
) -> None:
    store = Store(db.url)
    await upgrade(store.database.writer)
    for n in range(5):
        add_attempt(db, f"{n}".ljust(64, "0"), expires_in=-timedelta(minutes=1))
    now = [1000.0]
    keeper = Housekeeper(
        store, idle_timeout=timedelta(days=1), interval=60, batch=2, clock=lambda: now[0]
    )
    try:
        await keeper.sweep_if_due()
        after_first = db.count(ATTEMPTS)
        now[0] += CATCH_UP
        await keeper.sweep_if_due()
        after_catch_up = db.count(ATTEMPTS)
        now[0] += CATCH_UP
        await keeper.sweep_if_due()  # deletes the last one: less than a batch
        now[0] += CATCH_UP
        add_attempt(db, "late".ljust(64, "0"), expires_in=-timedelta(minutes=1))
        await keeper.sweep_if_due()
        waiting = db.count(ATTEMPTS)
    finally:
        await store.dispose()

    assert (after_first, after_catch_up) == (3, 1)
    assert waiting == 1, "with nothing more waiting, the next sweep is a minute away"
