"""Response headers and cookie attributes that keep credentials out of caches and other sites.

* ``Cache-Control: no-store`` on the callback and on every answer about a session: a shared cache
  or the browser's back button must never replay a ``Set-Cookie`` or a person's profile.
* ``Referrer-Policy: no-referrer`` on the callback: its URL carries the one-time code and state,
  which must not leak to the next page in a ``Referer``.
* Cookies are HttpOnly (no script reads them), SameSite=Lax, ``Path=/`` without ``Domain``, and
  over https ``Secure`` with the ``__Host-`` prefix (no sibling subdomain can set them).
"""

from __future__ import annotations

from pathlib import Path

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import (
    ACCOUNTS,
    AUTHORIZE,
    DISCONNECT,
    SESSION,
    SIGN_OUT,
    SITES,
    approve,
    served_over_https,
    start_sign_in,
)

SEVEN_DAYS = 7 * 24 * 3600
TEN_MINUTES = 600


def assert_not_stored(response: httpx2.Response, what: str) -> None:
    assert response.headers.get("cache-control") == "no-store", what
    assert response.headers.get("pragma") == "no-cache", what


def assert_no_referrer(response: httpx2.Response, what: str) -> None:
    assert response.headers.get("referrer-policy") == "no-referrer", what


async def test_callback_answers_are_never_stored_and_send_no_referrer(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    callback = await approve(emulator, await start_sign_in(victim))
    signed_in = await victim.get(callback)
    replayed = await victim.get(callback)
    declined = await victim.get(await emulator.decline((await start_sign_in(victim)).url))
    as_json = await victim.get(
        await approve(emulator, await start_sign_in(victim)),
        headers={"Accept": "application/json"},
    )
    json_error = await victim.get(
        await emulator.decline((await start_sign_in(victim)).url),
        headers={"Accept": "application/json"},
    )
    forged = await victim.get(
        "/api/kavach/auth/oauth/callback/atlassian", params={"state": "A" * 43, "code": "x"}
    )

    answers = {
        "success": signed_in,
        "replayed": replayed,
        "declined": declined,
        "success asked as JSON": as_json,
        "error asked as JSON": json_error,
        "unknown state": forged,
    }
    for what, response in answers.items():
        assert_not_stored(response, what)
        assert_no_referrer(response, what)
    assert json_error.status_code == 400
    assert "set-cookie" in signed_in.headers


async def test_session_answers_are_never_stored(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    anonymous = {
        "session, nobody signed in": await victim.get(SESSION),
        "accounts, nobody signed in": await victim.get(ACCOUNTS),
        "dependency, nobody signed in": await victim.get("/me"),
        "sites, nobody signed in": await victim.get(SITES),
        "disconnect, nobody signed in": await victim.delete(DISCONNECT),
        "authorize": await victim.get(AUTHORIZE),
    }
    await victim.get(await approve(emulator, await start_sign_in(victim)))
    signed_in = {
        "session": await victim.get(SESSION),
        "accounts": await victim.get(ACCOUNTS),
        "sites": await victim.get(SITES),
        "disconnect": await victim.delete(DISCONNECT),
        "sign-out": await victim.post(SIGN_OUT),
        "sign-out with redirect": await victim.post(SIGN_OUT, params={"redirect_to": "/"}),
    }

    for what, response in {**anonymous, **signed_in}.items():
        assert response.status_code < 500, what
        assert_not_stored(response, what)
    for what, response in signed_in.items():
        assert_no_referrer(response, what)
    assert signed_in["session"].status_code == 200
    assert signed_in["disconnect"].status_code == 200
    assert anonymous["session, nobody signed in"].status_code == 401
    assert anonymous["session, nobody signed in"].headers["www-authenticate"].startswith("Bearer")


def cookie_attributes(response: httpx2.Response, name: str) -> dict[str, str]:
    """The attributes of the ``Set-Cookie`` for ``name``, lower-cased, plus its value as ``=``."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        cookie_name, _, value = first.partition("=")
        if cookie_name == name:
            parsed = {"=": value}
            for attribute in attributes:
                key, _, setting = attribute.partition("=")
                parsed[key.lower()] = setting.lower()
            return parsed
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


async def test_cookies_are_http_only_lax_host_only_and_short_lived(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    started = await victim.get(AUTHORIZE)
    consent = started.headers["location"]
    finished = await victim.get(await emulator.approve(consent))

    binding = cookie_attributes(started, "kavach_signin")
    session = cookie_attributes(finished, "kavach_session")
    for cookie in (binding, session):
        assert "httponly" in cookie
        assert cookie["samesite"] == "lax"
        assert cookie["path"] == "/"
        assert "domain" not in cookie
        assert "secure" not in cookie, "plain http: a Secure cookie would never come back"
    assert binding["max-age"] == str(TEN_MINUTES)
    assert session["max-age"] == str(SEVEN_DAYS)


async def test_over_https_cookies_are_secure_and_host_prefixed(
    emulator: AtlassianEmulator, database: Path
) -> None:
    async with served_over_https(database, emulator) as (_app, client):
        started = await client.get(AUTHORIZE)
        finished = await client.get(await emulator.approve(started.headers["location"]))
        signed_out = await client.post(SIGN_OUT)

    for response, name in (
        (started, "__Host-kavach_signin"),
        (finished, "__Host-kavach_session"),
        (signed_out, "__Host-kavach_session"),
    ):
        cookie = cookie_attributes(response, name)
        assert "secure" in cookie
        assert "httponly" in cookie
        assert cookie["path"] == "/"
        assert "domain" not in cookie
    assert cookie_attributes(signed_out, "__Host-kavach_session")["max-age"] == "0"
