"""Malformed, duplicated and oversized query parameters on every endpoint.

Sent as raw bytes, as a hostile client would and as an ASGI server passes them on: invalid
percent-encoding, non-UTF-8 bytes, NUL, 100 KB values, parameters repeated or by the thousand,
and ``<script>`` in every parameter. No answer is a 5xx, the injected script never comes back in
a body or a ``Location``, a parameter given twice is refused, and the callback answers anything
it cannot use with an error redirect or a 4xx, having made nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi import FastAPI

from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import (
    ACCOUNTS,
    AUTHORIZE,
    CALLBACK,
    DISCONNECT,
    PREFIX,
    PROVIDERS,
    SESSION,
    SIGN_OUT,
    SITES,
    RawResponse,
    approve,
    lands_on_this_site,
    raw_request,
    sign_in,
    snapshot,
    start_sign_in,
)

BIG = b"a" * 100_000
SCRIPT = b"<script>alert(1)</script>"
SCRIPT_ENCODED = b"%3Cscript%3Ealert(1)%3C%2Fscript%3E"

ENDPOINTS = {
    "authorize": ("GET", AUTHORIZE, ["redirect_to"]),
    "authorize-unknown-provider": ("GET", f"{PREFIX}/auth/oauth/authorize/%3Cscript%3E", []),
    "callback": ("GET", CALLBACK, ["state", "code", "error", "iss", "error_description"]),
    "callback-unknown-provider": ("GET", f"{PREFIX}/auth/oauth/callback/nope", ["state"]),
    "session": ("GET", SESSION, []),
    "sign-out": ("POST", SIGN_OUT, ["redirect_to"]),
    "providers": ("GET", PROVIDERS, []),
    "accounts": ("GET", ACCOUNTS, []),
    "sites": ("GET", SITES, []),
    "disconnect": ("DELETE", DISCONNECT, []),
}


def queries_for(names: list[str]) -> dict[str, bytes]:
    """Hostile query strings aimed at an endpoint's parameters (and at made-up ones)."""
    names = [*names, "x"]
    found: dict[str, bytes] = {
        "thousands-of-parameters": b"&".join(b"p%d=%d" % (i, i) for i in range(5000)),
        "only-separators": b"&&&;;;===",
        "semicolon-separated": b"state=a;state=b;redirect_to=//evil.example",
        "bare-percent": b"%",
        "invalid-percent-name": b"%zz=1",
        "parameter-name-with-script": SCRIPT + b"=1",
    }
    for name in (n.encode() for n in names):
        label = name.decode()
        found |= {
            f"{label}-duplicated": name + b"=one&" + name + b"=two",
            f"{label}-duplicated-three-times": b"&".join([name + b"=" + SCRIPT_ENCODED] * 3),
            f"{label}-100kb": name + b"=" + BIG,
            f"{label}-100kb-name": BIG + b"=" + name,
            f"{label}-nul-encoded": name + b"=%00",
            f"{label}-nul-raw": name + b"=a\x00b",
            f"{label}-invalid-percent": name + b"=%zz%",
            f"{label}-truncated-percent": name + b"=%E0%A4%A",
            f"{label}-non-utf8-encoded": name + b"=%ff%fe%c0%af",
            f"{label}-empty": name + b"=",
            f"{label}-without-value": name,
            f"{label}-script": name + b"=" + SCRIPT,
            f"{label}-script-encoded": name + b"=" + SCRIPT_ENCODED,
            f"{label}-crlf": name + b"=%0d%0aSet-Cookie:%20kavach_session=planted",
        }
    return found


def assert_harmless(response: RawResponse, what: str) -> None:
    """No 5xx, no reflected script, and any redirect back into the site stays on it."""
    assert response.status_code < 500, (what, response.body[:300])
    assert b"<script" not in response.body.lower(), what
    location = response.header("location") or ""
    assert "<script" not in location.lower(), (what, location)
    assert "\r" not in location, what
    assert "\n" not in location, what
    if location and not location.startswith("http://atlassian.emulator/authorize?"):
        assert lands_on_this_site(location), (what, location)


CASES = [
    (f"{endpoint}:{query_name}", method, path, query)
    for endpoint, (method, path, names) in ENDPOINTS.items()
    for query_name, query in queries_for(names).items()
]


async def test_malformed_duplicated_and_oversized_parameters_never_cause_a_5xx(
    live_app: FastAPI, database: Path
) -> None:
    before = snapshot(database)
    for what, method, path, query in CASES:
        response = await raw_request(live_app, method, path, query=query)
        assert_harmless(response, f"{method} {what}")
        if path == CALLBACK:
            # The callback's answer to anything unexpected: an error redirect, or a 4xx.
            location = response.header("location") or ""
            assert (response.status_code == 303 and "error=" in location) or (
                400 <= response.status_code < 500
            ), (what, response.status_code, location)
    assert snapshot(database) == before, "no user, account or session was made"


async def test_raw_non_utf8_bytes_in_the_query_string_never_cause_a_5xx(
    live_app: FastAPI,
) -> None:
    for endpoint, (method, path, names) in ENDPOINTS.items():
        for name in [*names, "x"]:
            query = name.encode() + b"=\xff\xfe\xc0\xaf"
            response = await raw_request(live_app, method, path, query=query)
            assert_harmless(response, f"{endpoint} {name}")


async def approved_sign_in(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> tuple[str, str]:
    """A sign-in started by ``victim`` and approved at the emulator: its state and code."""
    consent = await start_sign_in(victim, redirect_to="/landing")
    callback = await approve(emulator, consent)
    return consent.state, parse_qs(urlsplit(callback).query)["code"][0]


NEXT_TO_A_VALID_STATE = {
    "code-100kb": b"state={state}&code=" + BIG,
    "code-nul": b"state={state}&code=%00",
    "code-non-utf8": b"state={state}&code=%ff%fe",
    "code-script": b"state={state}&code=" + SCRIPT_ENCODED,
    "code-missing": b"state={state}",
    "code-empty": b"state={state}&code=",
    "error-script": b"state={state}&error=" + SCRIPT_ENCODED,
    "error-100kb": b"state={state}&error=" + BIG,
    "error-description-script": b"state={state}&error=access_denied&error_description="
    + SCRIPT_ENCODED,
    "error-and-code": b"state={state}&code={code}&error=access_denied",
    "iss-script": b"state={state}&code={code}&iss=" + SCRIPT_ENCODED,
    "iss-100kb": b"state={state}&code={code}&iss=" + BIG,
    "iss-non-utf8": b"state={state}&code={code}&iss=%ff%fe",
}


async def callback_next_to_a_valid_state(
    live_app: FastAPI, victim: httpx2.AsyncClient, emulator: AtlassianEmulator, template: bytes
) -> tuple[bytes, RawResponse]:
    """Approve a sign-in, then call back with ``template`` filled with its state and code."""
    state, code = await approved_sign_in(victim, emulator)
    binding = victim.cookies["kavach_signin"]
    query = template.replace(b"{state}", state.encode()).replace(b"{code}", code.encode())
    response = await raw_request(
        live_app,
        "GET",
        CALLBACK,
        query=query,
        headers=[(b"cookie", f"kavach_signin={binding}".encode())],
    )
    return query, response


CallBack = Callable[[bytes], Awaitable[tuple[bytes, RawResponse]]]
"""Sends a callback query made from a template next to a valid state and code."""


@pytest.fixture
def call_back(
    live_app: FastAPI, victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> CallBack:
    async def send(template: bytes) -> tuple[bytes, RawResponse]:
        return await callback_next_to_a_valid_state(live_app, victim, emulator, template)

    return send


@pytest.mark.parametrize(
    "template", NEXT_TO_A_VALID_STATE.values(), ids=NEXT_TO_A_VALID_STATE.keys()
)
async def test_malformed_parameters_next_to_a_valid_state_end_in_an_error_redirect(
    call_back: CallBack, database: Path, template: bytes
) -> None:
    before = snapshot(database)

    query, response = await call_back(template)

    assert_harmless(response, query[:80].decode("latin-1"))
    assert response.status_code == 303
    location = response.header("location") or ""
    assert location.startswith("/landing?error="), location
    assert snapshot(database) == before


REPEATED_NEXT_TO_A_VALID_STATE = {
    "junk-state-then-the-real-one": b"state=" + b"A" * 43 + b"&state={state}&code={code}",
    "the-real-state-twice": b"state={state}&state={state}&code={code}",
    "code-twice": b"state={state}&code=stolen&code={code}",
    "iss-twice-the-good-one-last": b"state={state}&code={code}&iss=https%3A%2F%2Fevil.example"
    b"&iss=http%3A%2F%2Fatlassian.emulator",
}


@pytest.mark.parametrize(
    "template",
    REPEATED_NEXT_TO_A_VALID_STATE.values(),
    ids=REPEATED_NEXT_TO_A_VALID_STATE.keys(),
)
async def test_a_callback_with_a_repeated_parameter_is_refused(
    call_back: CallBack, emulator: AtlassianEmulator, database: Path, template: bytes
) -> None:
    """Which ``state`` or ``code`` counts would be the parser's choice: none does."""
    before = snapshot(database)

    _, response = await call_back(template)

    assert_harmless(response, template.decode())
    location = response.header("location") or ""
    assert 400 <= response.status_code < 500 or "error=" in location, (
        response.status_code,
        location,
    )
    assert "kavach_session" not in (response.header("set-cookie") or "")
    assert snapshot(database) == before
    assert emulator.calls["token"] == 0


async def test_a_signed_in_browser_survives_hostile_parameters_unchanged(
    live_app: FastAPI, victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    """The same corpus with a valid session: still no 5xx, and the session is untouched."""
    await sign_in(victim, emulator)
    token = victim.cookies["kavach_session"]
    cookie = [(b"cookie", f"kavach_session={token}".encode())]
    before = snapshot(database)
    for what, method, path, query in CASES:
        if path == SIGN_OUT:
            continue
        response = await raw_request(live_app, method, path, query=query, headers=cookie)
        assert response.status_code < 500, (what, response.body[:300])
        assert b"<script" not in response.body.lower(), what
    assert _sessions(database) == _sessions_of(before)


def _sessions(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return sorted(
            str(row[0]) for row in connection.execute("SELECT token_hash FROM kavach_sessions")
        )


def _sessions_of(snap: dict[str, list[tuple[object, ...]]]) -> list[str]:
    return sorted(str(row[0]) for row in snap["kavach_sessions"])
