"""Login CSRF: signing a victim's browser in as the attacker, or finishing someone else's sign-in.

The attacker signs in at Atlassian with their own account, stops before their browser opens the
callback URL, and gets the victim to open it (a link, an image, a form). If the app accepted it,
the victim would be signed in to the attacker's account and might hand it data. Every variant
must be refused with no user, linked account or session made, and the code never redeemed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator
from tests.emulator.flow import flow_for
from tests.integration.conftest import count_rows, execute

from .conftest import (
    ATTACKER_ADDRESS,
    HTTPS_BASE_URL,
    HTTPS_SITE,
    SESSION,
    approve,
    browser,
    build_app,
    plant_cookie,
    register_callback,
    running,
    session_cookie,
    sign_in,
    snapshot,
    start_sign_in,
)

ATTEMPTS = "kavach_sign_in_attempts"


def assert_refused(response: httpx2.Response, code: str, *, landing: str = "/") -> None:
    """A refused callback: 303 back to the site with the error, and no session cookie set."""
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{landing}?error={code}"
    assert not any("kavach_session" in value for value in response.headers.get_list("set-cookie"))


async def refused_and_unchanged(
    browser: httpx2.AsyncClient, callback: str, code: str, database: Path
) -> None:
    """Opening ``callback`` is refused with ``code``, and no row changes."""
    before = snapshot(database)
    response = await browser.get(callback)
    assert_refused(response, code)
    assert snapshot(database) == before


def db_time(moment: datetime) -> str:
    """A datetime as the package stores it in SQLite (naive UTC)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


async def test_a_callback_opened_in_a_browser_that_did_not_start_the_sign_in_is_refused(
    attacker: httpx2.AsyncClient,
    victim: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
) -> None:
    consent = await start_sign_in(attacker)
    callback = await approve(emulator, consent, user=emulator.users[1])
    before = snapshot(database)

    response = await victim.get(callback)

    assert_refused(response, "browser_mismatch")
    assert session_cookie(victim) is None
    assert (await victim.get(SESSION)).status_code == 401
    assert snapshot(database) == before
    assert emulator.calls["token"] == 0, "the attacker's code must never be redeemed"


async def test_a_foreign_callback_does_not_disturb_the_victims_own_pending_sign_in(
    attacker: httpx2.AsyncClient,
    victim: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
) -> None:
    own = await start_sign_in(victim, redirect_to="/mine")
    foreign = await approve(emulator, await start_sign_in(attacker), user=emulator.users[1])
    before = snapshot(database)

    refused = await victim.get(foreign)

    assert_refused(refused, "browser_mismatch")
    assert snapshot(database) == before
    finished = await victim.get(await approve(emulator, own))
    assert finished.headers["location"] == "/mine"
    me = (await victim.get(SESSION)).json()["user"]
    assert me["email"] == emulator.users[0].email


async def test_a_replayed_state_is_refused(
    attacker: httpx2.AsyncClient,
    victim: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
) -> None:
    callback = await approve(emulator, await start_sign_in(victim, redirect_to="/home"))
    assert (await victim.get(callback)).headers["location"] == "/home"
    token = session_cookie(victim)
    before = snapshot(database)

    again = await victim.get(callback)
    elsewhere = await attacker.get(callback)

    assert_refused(again, "invalid_state")
    assert_refused(elsewhere, "invalid_state")
    assert session_cookie(victim) == token, "a replay neither signs out nor switches the session"
    assert session_cookie(attacker) is None
    assert snapshot(database) == before
    assert emulator.calls["authorization_code"] == 1


async def test_an_expired_sign_in_attempt_is_refused(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    consent = await start_sign_in(victim, redirect_to="/later")
    created, expires = _attempt_times(database, consent.state)
    assert expires - created == timedelta(minutes=10)
    callback = await approve(emulator, consent)
    ago = datetime.now(timezone.utc) - timedelta(minutes=11)
    execute(
        database,
        "UPDATE kavach_sign_in_attempts SET created_at = ?, expires_at = ?",
        db_time(ago),
        db_time(ago + timedelta(minutes=10)),
    )
    before = snapshot(database)

    response = await victim.get(callback)

    assert_refused(response, "sign_in_expired", landing="/later")
    assert snapshot(database) == before
    assert emulator.calls["token"] == 0


def _attempt_times(database: Path, state: str) -> tuple[datetime, datetime]:
    with sqlite3.connect(database) as connection:
        created, expires = connection.execute(
            f"SELECT created_at, expires_at FROM {ATTEMPTS} WHERE state_hash = ?",  # noqa: S608
            (hash_token(state),),
        ).fetchone()
    return datetime.fromisoformat(created), datetime.fromisoformat(expires)


TAMPERED_BINDINGS: dict[str, Callable[[str, str], str]] = {
    "last-character-flipped": lambda real, _other: real[:-1] + ("A" if real[-1] != "A" else "B"),
    "truncated": lambda real, _other: real[:20],
    "empty": lambda _real, _other: "",
    "stored-hash": lambda real, _other: hash_token(real),
    "another-browsers-binding": lambda _real, other: other,
    "oversized": lambda real, _other: real * 40,
    "percent-encoded-non-ascii": lambda real, _other: real[:-1] + "%C3%A9",
}


@pytest.mark.parametrize("tamper", TAMPERED_BINDINGS.values(), ids=TAMPERED_BINDINGS.keys())
async def test_a_tampered_or_foreign_binding_cookie_is_refused(
    attacker: httpx2.AsyncClient,
    victim: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
    tamper: Callable[[str, str], str],
) -> None:
    other = (await start_sign_in(attacker)).binding
    consent = await start_sign_in(victim)
    callback = await approve(emulator, consent)
    plant_cookie(victim, "kavach_signin", tamper(consent.binding, other))
    before = snapshot(database)

    response = await victim.get(callback)

    assert_refused(response, "browser_mismatch")
    assert (await victim.get(SESSION)).status_code == 401
    assert snapshot(database) == before
    assert emulator.calls["token"] == 0


async def test_over_https_a_binding_cookie_planted_without_the_host_prefix_is_ignored(
    emulator: AtlassianEmulator, database: Path
) -> None:
    """A sibling subdomain can plant ``kavach_signin`` but never ``__Host-kavach_signin``."""
    register_callback(emulator, HTTPS_BASE_URL)
    app = build_app(database, emulator, base_url=HTTPS_BASE_URL)
    async with (
        running(app),
        browser(app, base_url=HTTPS_SITE, address=ATTACKER_ADDRESS) as attacker,
        browser(app, base_url=HTTPS_SITE) as victim,
    ):
        consent = await start_sign_in(attacker)
        callback = await approve(emulator, consent, user=emulator.users[1])
        plant_cookie(victim, "kavach_signin", consent.binding)
        await refused_and_unchanged(victim, callback, "browser_mismatch", database)

        assert emulator.calls["token"] == 0


async def test_a_callback_without_any_binding_cookie_is_refused(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    callback = await approve(emulator, await start_sign_in(victim))
    victim.cookies.clear()
    await refused_and_unchanged(victim, callback, "browser_mismatch", database)

    assert count_rows(database, "kavach_sessions") == 0


async def test_a_forged_state_is_refused(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    consent = await start_sign_in(victim)
    callback = await approve(emulator, consent)
    forged = callback.replace(consent.state, "A" * 43)
    await refused_and_unchanged(victim, forged, "invalid_state", database)

    assert emulator.calls["token"] == 0


async def test_a_stolen_code_cannot_be_redeemed_without_the_pkce_verifier(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    """Even an attacker who also has the client secret: the verifier never left the database."""
    consent = await start_sign_in(victim)
    callback = await approve(emulator, consent)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    async with flow_for(emulator) as atlassian:
        stolen = await atlassian.exchange(
            code, redirect_uri=consent.redirect_uri, code_verifier=None, as_json=False
        )

    assert stolen.status_code in (400, 401, 403), stolen.text
    assert "access_token" not in stolen.text
    assert emulator.state.access_tokens == {}


async def test_sign_in_still_works_for_the_browser_that_started_it(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    """The control for the attacks above: the honest path signs in."""
    await sign_in(victim, emulator, redirect_to="/welcome")

    assert (await victim.get(SESSION)).status_code == 200
