"""Forged ``Host`` and ``X-Forwarded-*``: they must not move the callback URL or "this site".

The redirect URI sent to Atlassian decides where the one-time code goes; the origin of "this site"
decides which ``redirect_to`` is allowed and which ``Origin`` may sign out. With
``KAVACH_BASE_URL`` set, all of it comes from that setting alone. Without it the package uses what
the ASGI server reports and never reads ``X-Forwarded-*`` itself: only a server told which proxies
to trust (``uvicorn --forwarded-allow-ips``, i.e. its ``ProxyHeadersMiddleware``) rewrites them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator, AuthorizeError

from .conftest import (
    ATTACKER_ADDRESS,
    EVIL,
    HTTPS_BASE_URL,
    PREFIX,
    SITE,
    SITES,
    Consent,
    approve,
    behind_proxy,
    browser,
    build_app,
    register_callback,
    running,
    served_over_https,
    sign_in,
    snapshot,
    start_sign_in,
)

CALLBACK_SUFFIX = "/auth/oauth/callback/atlassian"
PROXY_ADDRESS = ("10.0.0.1", 41000)

FORGED = {
    "host": {"Host": EVIL},
    "x-forwarded-host": {"X-Forwarded-Host": EVIL},
    "x-forwarded-proto": {"X-Forwarded-Proto": "http"},
    "forwarded": {"Forwarded": f"for=192.0.2.1;host={EVIL};proto=http"},
    "all-of-them": {
        "Host": EVIL,
        "X-Forwarded-Host": EVIL,
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/evil",
        "X-Original-Host": EVIL,
        "X-Host": EVIL,
        "Forwarded": f"host={EVIL};proto=http",
    },
}


def stored_attempt(database: Path, consent: Consent) -> tuple[str, str]:
    """The redirect URI and ``redirect_to`` the app stored with a sign-in attempt."""
    with sqlite3.connect(database) as connection:
        redirect_uri, redirect_to = connection.execute(
            "SELECT redirect_uri, redirect_to FROM kavach_sign_in_attempts WHERE state_hash = ?",
            (hash_token(consent.state),),
        ).fetchone()
    return str(redirect_uri), str(redirect_to)


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
async def test_with_base_url_set_forged_host_or_forwarded_headers_cannot_move_the_redirect_uri(
    emulator: AtlassianEmulator, database: Path, forged: dict[str, str]
) -> None:
    async with served_over_https(database, emulator) as (_app, client):
        consent = await start_sign_in(client, redirect_to=f"https://{EVIL}/", headers=forged)
        stored = stored_attempt(database, consent)
        started = await client.get(f"{PREFIX}/auth/oauth/authorize/atlassian", headers=forged)
        callback = await approve(emulator, consent)
        finished = await client.get(callback, headers=forged)

    assert consent.redirect_uri == f"{HTTPS_BASE_URL}{CALLBACK_SUFFIX}"
    assert stored == (f"{HTTPS_BASE_URL}{CALLBACK_SUFFIX}", "/")
    binding_cookie = started.headers["set-cookie"]
    assert binding_cookie.startswith("__Host-kavach_signin=")
    assert "secure" in binding_cookie.lower()
    assert finished.status_code == 303
    assert finished.headers["location"] == "/", "the forged host is not 'this site'"
    assert finished.headers["set-cookie"].startswith("__Host-kavach_session=")


async def test_without_base_url_forwarded_headers_are_ignored_by_the_package(
    emulator: AtlassianEmulator, database: Path
) -> None:
    app = build_app(database, emulator)
    forged = {
        "X-Forwarded-Host": EVIL,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Prefix": "/evil",
        "Forwarded": f"host={EVIL};proto=https",
    }
    async with running(app), browser(app) as client:
        consent = await start_sign_in(client, redirect_to=f"https://{EVIL}/x", headers=forged)
        started = await client.get(f"{PREFIX}/auth/oauth/authorize/atlassian", headers=forged)

    assert consent.redirect_uri == f"{SITE}{PREFIX}{CALLBACK_SUFFIX}"
    assert stored_attempt(database, consent) == (f"{SITE}{PREFIX}{CALLBACK_SUFFIX}", "/")
    binding_cookie = started.headers["set-cookie"]
    assert binding_cookie.startswith("kavach_signin=")
    assert "secure" not in binding_cookie.lower()


async def test_without_base_url_a_forged_host_is_stopped_by_atlassians_exact_redirect_uri_match(
    emulator: AtlassianEmulator, database: Path
) -> None:
    """The host the ASGI server reports is used, so a forged one reaches the consent URL; but
    Atlassian only redirects to a registered callback, so no code is ever sent to that host.
    SECURITY.md says to set ``KAVACH_BASE_URL`` in production for this reason."""
    app = build_app(database, emulator)
    async with running(app), browser(app) as client:
        consent = await start_sign_in(client, headers={"Host": EVIL})
        before = snapshot(database)

        with pytest.raises(AuthorizeError):
            await approve(emulator, consent)

    assert consent.redirect_uri == f"http://{EVIL}{PREFIX}{CALLBACK_SUFFIX}"
    assert emulator.state.codes == {}
    assert snapshot(database) == before


async def test_forwarded_headers_are_trusted_only_from_configured_proxies(
    emulator: AtlassianEmulator, database: Path
) -> None:
    """Deployed as SECURITY.md says: uvicorn trusts ``X-Forwarded-*`` from its proxy alone."""
    register_callback(emulator, f"https://testserver{PREFIX}")
    app = build_app(database, emulator)
    served = behind_proxy(app, PROXY_ADDRESS[0])
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.23"}
    async with (
        running(app),
        browser(served, address=PROXY_ADDRESS) as through_proxy,
        browser(served, address=ATTACKER_ADDRESS) as direct,
    ):
        trusted = await start_sign_in(through_proxy, headers=forwarded)
        spoofed = await start_sign_in(direct, headers=forwarded)

    assert trusted.redirect_uri == f"https://testserver{PREFIX}{CALLBACK_SUFFIX}"
    assert spoofed.redirect_uri == f"{SITE}{PREFIX}{CALLBACK_SUFFIX}"


async def test_with_base_url_set_a_forged_host_cannot_move_the_reauth_url(
    emulator: AtlassianEmulator, database: Path
) -> None:
    async with served_over_https(database, emulator) as (_app, client):
        await sign_in(client, emulator)
        emulator.revoke_grant(emulator.users[0].account_id)

        answers = [await client.get(path, headers={"Host": EVIL}) for path in (SITES, "/sites")]

    for answer in answers:
        assert answer.status_code == 401
        assert (
            answer.json()["error"]["reauth_url"]
            == f"{HTTPS_BASE_URL}/auth/oauth/authorize/atlassian"
        )
