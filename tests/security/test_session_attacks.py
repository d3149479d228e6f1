"""Attacks on the session: fixation, garbage credentials, and copies of the database.

* Fixation: an attacker who can plant a cookie in the victim's browser before sign-in (a shared
  computer, a sibling subdomain over http) must not find that value signed in afterwards.
* Garbage: whatever arrives as ``kavach_session`` or ``Authorization``, the answer is 401 (or the
  page for nobody signed in), never a 5xx.
* Theft: the database keeps SHA-256 hashes of session tokens, states and browser bindings and
  encrypted provider tokens; none of them works where the original would.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator
from tests.emulator.flow import flow_for
from tests.integration.conftest import count_rows

from .conftest import (
    ACCOUNTS,
    SESSION,
    SIGN_OUT,
    approve,
    plant_cookie,
    raw_request,
    session_cookie,
    sign_in,
    snapshot,
    start_sign_in,
)

PLANTED = "planted-by-the-attacker-0123456789-ABCDEFGHIJ"


def column(database: Path, sql: str) -> list[str]:
    """One column of a query, as strings."""
    with sqlite3.connect(database) as connection:
        return [str(row[0]) for row in connection.execute(sql).fetchall()]


async def test_a_planted_session_cookie_is_not_adopted_at_sign_in(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    plant_cookie(victim, "kavach_session", PLANTED)
    assert (await victim.get(SESSION)).status_code == 401

    await sign_in(victim, emulator)

    issued = session_cookie(victim)
    assert issued is not None
    assert issued != PLANTED
    assert hash_token(PLANTED) not in column(database, "SELECT token_hash FROM kavach_sessions")
    planted = await victim.get(SESSION, headers={"Authorization": f"Bearer {PLANTED}"})
    assert planted.status_code == 401
    assert (await victim.get(SESSION)).status_code == 200


async def test_an_attackers_own_session_planted_before_sign_in_never_becomes_the_victims(
    attacker: httpx2.AsyncClient,
    victim: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
) -> None:
    await sign_in(attacker, emulator, user=emulator.users[1])
    attackers_token = session_cookie(attacker)
    assert attackers_token is not None
    plant_cookie(victim, "kavach_session", attackers_token)

    await sign_in(victim, emulator, user=emulator.users[0])

    assert session_cookie(victim) != attackers_token
    victims = (await victim.get(SESSION)).json()["user"]
    assert victims["email"] == emulator.users[0].email
    seen_by_attacker = await attacker.get(SESSION)
    if seen_by_attacker.status_code == 200:
        assert seen_by_attacker.json()["user"]["email"] == emulator.users[1].email
    else:
        assert seen_by_attacker.status_code == 401


GARBAGE_COOKIES = {
    "empty": b"",
    "short": b"a",
    "one-over-the-maximum": b"x" * 129,
    "oversized": b"x" * 100_000,
    "nul-bytes": b"\x00" * 43,
    "non-utf8": b"\xff\xfe" * 30,
    "utf8-non-ascii": "\u00e9".encode() * 43,
    "script": b"<script>alert(1)</script>",
    "quoted-empty": b'""',
    "percent-encoded": b"%00%ff%2F%2F",
    "unknown-token": b"A" * 43,
    "sql": b"' OR '1'='1",
}

GARBAGE_AUTHORIZATIONS = {
    "scheme-only": b"Bearer",
    "scheme-and-space": b"Bearer ",
    "scheme-and-spaces": b"Bearer      ",
    "basic": b"Basic dXNlcjpwYXNzd29yZA==",
    "oversized": b"Bearer " + b"x" * 100_000,
    "nul": b"Bearer \x00\x00\x00",
    "non-utf8": b"Bearer \xff\xfe\xfd" * 10,
    "utf8-right-to-left-override": b"Bearer " + "\u202e".encode() * 20,
    "several-words": b"Bearer a b c",
    "lower-case-unknown": b"bearer " + b"B" * 43,
    "other-scheme": b"Token " + b"C" * 43,
    "script": b"Bearer <script>alert(1)</script>",
}

PROTECTED = [SESSION, ACCOUNTS, "/me", "/sites"]


def _cases() -> list[tuple[str, list[tuple[bytes, bytes]]]]:
    cases = [
        (f"cookie-{name}", [(b"cookie", b"kavach_session=" + value)])
        for name, value in GARBAGE_COOKIES.items()
    ]
    cases += [
        (f"authorization-{name}", [(b"authorization", value)])
        for name, value in GARBAGE_AUTHORIZATIONS.items()
    ]
    cases += [
        (
            "duplicate-cookies",
            [(b"cookie", b"kavach_session=a; kavach_session=b; kavach_session=" + b"c" * 43)],
        ),
        ("a-thousand-cookies", [(b"cookie", b"; ".join(b"c%d=v" % i for i in range(1000)))]),
        ("malformed-cookie-header", [(b"cookie", b";;;==;kavach_session;=x;")]),
        ("two-authorization-headers", [(b"authorization", b"Bearer x"), (b"authorization", b"y")]),
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize("headers", [headers for _, headers in CASES], ids=[n for n, _ in CASES])
async def test_garbage_or_oversized_session_credentials_answer_401_never_5xx(
    live_app: FastAPI, database: Path, headers: list[tuple[bytes, bytes]]
) -> None:
    before = snapshot(database)
    for path in PROTECTED:
        response = await raw_request(live_app, "GET", path, headers=headers)
        assert response.status_code == 401, (path, response.body[:200])
        assert b'"code":"not_signed_in"' in response.body, path
        assert b"<script" not in response.body
    signed_out = await raw_request(live_app, "POST", SIGN_OUT, headers=headers)
    assert signed_out.status_code == 200, signed_out.body[:200]
    assert snapshot(database) == before


async def test_session_hashes_stolen_from_the_database_cannot_be_used(
    victim: httpx2.AsyncClient,
    attacker: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
) -> None:
    await sign_in(victim, emulator)
    (stolen,) = column(database, "SELECT token_hash FROM kavach_sessions")

    for value in (stolen, stolen.upper()):
        plant_cookie(attacker, "kavach_session", value)
        assert (await attacker.get(SESSION)).status_code == 401
        attacker.cookies.clear()
        bearer = await attacker.get(SESSION, headers={"Authorization": f"Bearer {value}"})
        assert bearer.status_code == 401
    assert count_rows(database, "kavach_sessions") == 1


async def test_state_and_binding_hashes_stolen_from_the_database_cannot_finish_a_sign_in(
    victim: httpx2.AsyncClient,
    attacker: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
) -> None:
    consent = await start_sign_in(victim)
    callback = await approve(emulator, consent)
    ((state_hash, browser_hash),) = _attempt_hashes(database)
    before = snapshot(database)

    plant_cookie(attacker, "kavach_signin", browser_hash)
    with_hashed_state = await attacker.get(callback.replace(consent.state, state_hash))
    with_real_state = await attacker.get(callback)

    assert with_hashed_state.headers["location"] == "/?error=invalid_state"
    assert with_real_state.headers["location"] == "/?error=browser_mismatch"
    assert snapshot(database) == before
    assert emulator.calls["token"] == 0


def _attempt_hashes(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT state_hash, browser_hash FROM kavach_sign_in_attempts"
        ).fetchall()
    return [(str(state), str(browser)) for state, browser in rows]


async def test_provider_tokens_stolen_from_the_database_are_useless_without_the_secret(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    await sign_in(victim, emulator)
    (access,) = column(database, "SELECT access_token FROM kavach_accounts")
    (refresh,) = column(database, "SELECT refresh_token FROM kavach_accounts")
    issued = set(emulator.state.access_tokens) | set(emulator.state.refresh_tokens)
    assert access not in issued
    assert refresh not in issued

    async with flow_for(emulator) as atlassian:
        me = await atlassian.me(access)
        refreshed = await atlassian.refresh(refresh)

    assert me.status_code == 401
    assert refreshed.status_code in (400, 401, 403)
