"""The whole sign-in, over the real ASGI app, signing in at the Atlassian emulator in-process.

Atlassian's failures are the emulator's own answers (a code past its lifetime, a rotated secret,
its faults); a transport that raises stands in only for a network that never answers, and one
that garbles the body (``tests.support.transports``) for an answer that cannot be decoded. Answers no
Atlassian gives (a JSON array, a token answer without ``access_token``, a redirect) are refused
by the OAuth client itself: ``tests/unit/test_oauth.py``. Every test runs on SQLite and on
PostgreSQL (the ``db`` fixture behind ``client``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator, Fault, FaultEndpoint, pkce_challenge
from kavach_fastapi.errors import DatabaseUnavailableError
from kavach_fastapi.testing import EMULATOR_URL, emulator_provider, emulator_transport

from ..databases import TestDatabase, ago
from ..support.transports import UndecodableAnswers
from .conftest import (
    AUTHORIZE,
    CALLBACK,
    another_browser,
    approve,
    consent_params,
    decline,
    emulated_app,
    finish_sign_in,
    query_of,
    sign_in,
    start_sign_in,
)


def assert_nothing_written(db: TestDatabase) -> None:
    for table in ("kavach_users", "kavach_accounts", "kavach_sessions"):
        assert db.count(table) == 0, table


def issued_tokens(emulator: AtlassianEmulator) -> list[str]:
    """Every access and refresh token the emulator has handed out."""
    return [*emulator.state.access_tokens, *emulator.state.refresh_tokens]


def never_asked(emulator: AtlassianEmulator) -> bool:
    """Whether the app never called Atlassian's token or profile endpoint."""
    return emulator.calls["token"] == emulator.calls["me"] == 0


def test_authorize_redirects_to_consent_with_state_pkce_audience_and_prompt(
    client: TestClient, emu: AtlassianEmulator
) -> None:
    response = client.get(AUTHORIZE)

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{EMULATOR_URL}/authorize?")
    params = consent_params(response)
    assert params["client_id"] == emu.default_client.client_id
    assert params["response_type"] == "code"
    assert params["audience"] == "api.atlassian.com"
    assert params["prompt"] == "consent"
    assert params["scope"] == "read:me offline_access read:jira-user"
    assert params["redirect_uri"] == "http://testserver/api/kavach/auth/oauth/callback/atlassian"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43
    assert response.headers["cache-control"] == "no-store"


def test_authorize_binds_the_attempt_to_a_short_lived_httponly_cookie(
    client: TestClient, db: TestDatabase
) -> None:
    response = client.get(AUTHORIZE)

    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kavach_signin=")
    assert "HttpOnly" in cookie
    assert "Max-Age=600" in cookie
    assert "Path=/" in cookie
    assert "samesite=lax" in cookie.lower()
    assert db.count("kavach_sign_in_attempts") == 1


def test_attempt_stores_only_hashes_of_state_and_binding(
    client: TestClient, db: TestDatabase
) -> None:
    state = query_of(start_sign_in(client))["state"]
    binding = client.cookies["kavach_signin"]

    raw = db.at_rest()
    assert state.encode() not in raw
    assert binding.encode() not in raw
    assert hash_token(state).encode() in raw


def test_sign_in_sets_the_session_and_lands_on_redirect_to_without_code_or_state(
    client: TestClient,
) -> None:
    response = sign_in(client, redirect_to="/dashboard?tab=2")

    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard?tab=2"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kavach_session=")
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie


def test_current_user_recognises_the_person_on_later_requests(
    client: TestClient, emu: AtlassianEmulator
) -> None:
    emu.users[0].picture = "https://avatars.example/ada.png"
    sign_in(client)

    first = client.get("/me")
    second = client.get("/me")

    assert first.status_code == 200
    assert first.json()["email"] == "ada@example.com"
    assert first.json()["name"] == "Ada Lovelace"
    assert first.json()["image"] == "https://avatars.example/ada.png"
    assert first.json()["email_verified"] is True
    assert second.json() == first.json()
    assert set(first.json()) == {"id", "email", "email_verified", "name", "image", "created_at"}


def test_token_exchange_sends_code_verifier_and_secret_in_the_body(
    client: TestClient, emu: AtlassianEmulator
) -> None:
    consent_url = start_sign_in(client)
    finish_sign_in(client, consent_url)

    body = emu.last_request["token"].form
    assert body["grant_type"] == "authorization_code"
    assert body["client_id"] == emu.default_client.client_id
    assert body["client_secret"] == emu.default_client.client_secret
    assert body["redirect_uri"] == "http://testserver/api/kavach/auth/oauth/callback/atlassian"
    assert "authorization" not in emu.last_request["token"].headers
    assert pkce_challenge(body["code_verifier"]) == query_of(consent_url)["code_challenge"]
    (access_token,) = emu.state.access_tokens
    assert emu.last_request["me"].headers["authorization"] == f"Bearer {access_token}"


def test_replayed_callback_is_refused_and_creates_nothing_more(
    client: TestClient, db: TestDatabase
) -> None:
    callback = approve(client, start_sign_in(client, "/here"))
    assert client.get(CALLBACK, params=callback).status_code == 303
    sessions_before = db.count("kavach_sessions")

    replay = client.get(CALLBACK, params=callback)

    assert replay.status_code == 303
    assert replay.headers["location"] == "/?error=invalid_state"
    assert "set-cookie" not in replay.headers
    assert db.count("kavach_sessions") == sessions_before


def test_callback_opened_in_another_browser_does_not_sign_it_in(
    client: TestClient, db: TestDatabase
) -> None:
    consent_url = start_sign_in(client)

    with another_browser(client) as other_browser:
        response = finish_sign_in(other_browser, consent_url)
        assert other_browser.get("/me").status_code == 401

    assert response.headers["location"] == "/?error=browser_mismatch"
    assert "set-cookie" not in response.headers
    assert_nothing_written(db)


def test_callback_with_a_foreign_binding_cookie_is_refused(
    client: TestClient, db: TestDatabase
) -> None:
    consent_url = start_sign_in(client)
    client.cookies.clear()
    client.cookies.set("kavach_signin", "x" * 43)

    response = finish_sign_in(client, consent_url)

    assert response.headers["location"] == "/?error=browser_mismatch"
    assert_nothing_written(db)


def test_unknown_state_is_refused(client: TestClient, db: TestDatabase) -> None:
    consent_url = start_sign_in(client)

    response = finish_sign_in(client, consent_url, state="n" * 43)

    assert response.headers["location"] == "/?error=invalid_state"
    assert_nothing_written(db)


def test_missing_state_is_refused(client: TestClient) -> None:
    response = client.get(CALLBACK, params={"code": "abc"})

    assert response.status_code == 303
    assert response.headers["location"] == "/?error=invalid_state"


def test_attempt_older_than_ten_minutes_is_refused(client: TestClient, db: TestDatabase) -> None:
    consent_url = start_sign_in(client, "/later")
    db.execute("UPDATE kavach_sign_in_attempts SET expires_at = :at", at=ago(seconds=1))

    response = finish_sign_in(client, consent_url)

    assert response.headers["location"] == "/later?error=sign_in_expired"
    assert_nothing_written(db)


def test_attempt_is_single_use_even_when_it_fails(client: TestClient, db: TestDatabase) -> None:
    consent_url = start_sign_in(client)
    assert decline(client, consent_url).headers["location"] == "/?error=access_denied"

    assert db.count("kavach_sign_in_attempts") == 0
    assert finish_sign_in(client, consent_url).headers["location"] == "/?error=invalid_state"


@pytest.mark.parametrize(
    ("provider_error", "code"),
    [
        ("access_denied", "access_denied"),
        ("invalid_scope", "invalid_scope"),
        ("server_error", "provider_error"),
        ("<script>alert(1)</script>", "provider_error"),
    ],
)
def test_provider_error_lands_on_redirect_to_with_its_code(
    client: TestClient,
    db: TestDatabase,
    emu: AtlassianEmulator,
    provider_error: str,
    code: str,
) -> None:
    state = query_of(start_sign_in(client, "/welcome?from=atl"))["state"]

    response = client.get(
        CALLBACK,
        params={"state": state, "error": provider_error, "error_description": "nope"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/welcome?from=atl&error={code}"
    assert never_asked(emu)
    assert_nothing_written(db)


def test_callback_naming_another_issuer_is_refused(
    client: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    consent_url = start_sign_in(client)

    response = finish_sign_in(client, consent_url, iss="https://evil.example")

    assert response.headers["location"] == "/?error=issuer_mismatch"
    assert never_asked(emu)
    assert_nothing_written(db)


Arrange = Callable[[AtlassianEmulator], dict[str, Any]]
"""What goes wrong, set up at the emulator; returns the app's options it needs (maybe none)."""


def fault(endpoint: FaultEndpoint, injected: Fault) -> Arrange:
    def arrange(emulator: AtlassianEmulator) -> dict[str, Any]:
        emulator.faults.add(endpoint, injected)
        return {}

    return arrange


def dropped(path: str, error: Exception) -> Arrange:
    """Requests to ``path`` raise ``error`` (a network that never answers); the rest reach the
    emulator."""

    def arrange(emulator: AtlassianEmulator) -> dict[str, Any]:
        emulated = emulator_transport(emulator)

        async def handle(request: httpx2.Request) -> httpx2.Response:
            if request.url.path == path:
                raise error
            return await emulated.handle_async_request(request)

        return {"http_transport": httpx2.MockTransport(handle)}

    return arrange


def undecodable(path: str) -> Arrange:
    """Atlassian acts on requests to ``path``, but the body of its answer cannot be decoded."""

    def arrange(emulator: AtlassianEmulator) -> dict[str, Any]:
        return {"http_transport": UndecodableAnswers(emulator_transport(emulator), path)}

    return arrange


def code_expired(emulator: AtlassianEmulator) -> dict[str, Any]:
    """The code is past its lifetime when the app redeems it: ``403 invalid_grant``."""
    emulator.lifetimes.authorization_code = timedelta(0)
    return {}


def secret_rotated(emulator: AtlassianEmulator) -> dict[str, Any]:
    """The app still sends a secret since rotated in the console: ``401 access_denied``."""
    stale = replace(emulator_provider(emulator), client_secret=SecretStr("rotated-away"))
    return {"providers": [stale]}


def profile_at(path: Callable[[AtlassianEmulator], str]) -> Arrange:
    """The app reads the person from another of Atlassian's endpoints than ``/me``."""

    def arrange(emulator: AtlassianEmulator) -> dict[str, Any]:
        provider = emulator_provider(emulator)
        return {"providers": [replace(provider, profile_url=f"{EMULATOR_URL}{path(emulator)}")]}

    return arrange


TOKEN_FAILURES: dict[str, tuple[Arrange, str]] = {
    "timeout": (dropped("/oauth/token", httpx2.ReadTimeout("slow")), "provider_unavailable"),
    "unreachable": (dropped("/oauth/token", httpx2.ConnectError("down")), "provider_unavailable"),
    "invalid_grant": (code_expired, "token_exchange_failed"),
    "unauthorized": (secret_rotated, "token_exchange_failed"),
    "server_error": (fault("token", Fault("status", status=500)), "token_exchange_failed"),
    "bad_gateway_json": (fault("token", Fault("status", status=502)), "token_exchange_failed"),
    "malformed_json": (fault("token", Fault("malformed_json")), "token_exchange_failed"),
    "undecodable": (undecodable("/oauth/token"), "token_exchange_failed"),
}


PROFILE_FAILURES: dict[str, tuple[Arrange, str]] = {
    "timeout": (dropped("/me", httpx2.ReadTimeout("slow")), "provider_unavailable"),
    "unauthorized": (fault("me", Fault("status", status=401)), "profile_fetch_failed"),
    "server_error": (fault("me", Fault("status", status=503)), "profile_fetch_failed"),
    "malformed_json": (fault("me", Fault("malformed_json")), "profile_fetch_failed"),
    "undecodable": (undecodable("/me"), "profile_fetch_failed"),
    # A JSON array: the sites the token reaches.
    "not_an_object": (
        profile_at(lambda _: "/oauth/token/accessible-resources"),
        "profile_fetch_failed",
    ),
    # Jira's ``myself`` names the person ``accountId``, not ``account_id``.
    "no_account_id": (
        profile_at(lambda emulator: f"/ex/jira/{emulator.sites[0].id}/rest/api/3/myself"),
        "profile_fetch_failed",
    ),
}


FAILURES = {
    **{("token", name): failure for name, failure in TOKEN_FAILURES.items()},
    **{("me", name): failure for name, failure in PROFILE_FAILURES.items()},
}
"""What Atlassian's token endpoint, or its profile endpoint after a good exchange, may do."""


@pytest.mark.parametrize(
    ("endpoint", "failure"), sorted(FAILURES), ids=[f"{e}-{n}" for e, n in sorted(FAILURES)]
)
def test_a_failed_token_exchange_or_profile_fetch_writes_nothing_and_lands_with_error(
    db: TestDatabase, emu: AtlassianEmulator, endpoint: str, failure: str
) -> None:
    arrange, code = FAILURES[endpoint, failure]
    with TestClient(emulated_app(db, emu, **arrange(emu)), follow_redirects=False) as client:
        response = finish_sign_in(client, start_sign_in(client, "/app"))

    assert response.status_code == 303
    assert response.headers["location"] == f"/app?error={code}"
    assert "set-cookie" not in response.headers
    if endpoint == "token":
        assert emu.calls["me"] == 0  # no profile fetch after a failed exchange
    assert_nothing_written(db)


def test_a_database_outage_at_the_sign_in_write_lands_the_browser_on_database_unavailable(
    db: TestDatabase, emu: AtlassianEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(**_: Any) -> NoReturn:
        raise DatabaseUnavailableError

    app = emulated_app(db, emu)
    with TestClient(app, follow_redirects=False) as client:
        # The attempt is taken, Atlassian answered; then the database goes at the write.
        monkeypatch.setattr(app.state.kavach.store.signins, "record_sign_in", unavailable)
        callback = approve(client, start_sign_in(client, "/app"))
        response = client.get(CALLBACK, params=callback)
        as_json = client.get(
            CALLBACK,
            params=approve(client, start_sign_in(client, "/app")),
            headers={"accept": "application/json"},
        )

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/app?error=database_unavailable"
    assert "set-cookie" not in response.headers
    assert as_json.status_code == 503
    assert as_json.json()["error"]["code"] == "database_unavailable"
    assert int(as_json.headers["retry-after"]) >= 1
    assert_nothing_written(db)


def test_json_client_gets_a_502_json_error_when_the_exchange_fails(
    client: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    emu.faults.add("token", Fault("status", status=500))
    callback = approve(client, start_sign_in(client))

    response = client.get(CALLBACK, params=callback, headers={"accept": "application/json"})

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "token_exchange_failed"
    assert set(response.json()["error"]) == {"code", "message"}
    assert response.headers["cache-control"] == "no-store"
    assert_nothing_written(db)


@pytest.mark.parametrize("status", ["inactive", "closed"])
def test_closed_or_inactive_account_is_refused_with_its_own_code(
    client: TestClient, db: TestDatabase, emu: AtlassianEmulator, status: str
) -> None:
    emu.users[0].account_status = status

    response = finish_sign_in(client, start_sign_in(client))

    assert response.headers["location"] == "/?error=account_disabled"
    assert_nothing_written(db)


def test_tokens_are_encrypted_at_rest(
    client: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    sign_in(client)
    session_token = client.cookies["kavach_session"]

    raw = db.at_rest()
    assert len(issued_tokens(emu)) == 2  # an access token and a refresh token
    for token in (*issued_tokens(emu), session_token):
        assert token.encode() not in raw
    assert hash_token(session_token).encode() in raw


def test_signing_in_again_refreshes_the_profile_and_issues_a_new_session(
    client: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    sign_in(client)
    first_user = client.get("/me").json()
    first_token = client.cookies["kavach_session"]

    emu.users[0].name = "Ada King"
    emu.users[0].picture = "https://avatars.example/ada2.png"
    sign_in(client)
    second_user = client.get("/me").json()

    assert second_user["id"] == first_user["id"]
    assert second_user["name"] == "Ada King"
    assert second_user["image"] == "https://avatars.example/ada2.png"
    assert client.cookies["kavach_session"] != first_token
    assert db.count("kavach_users") == 1
    assert db.count("kavach_accounts") == 1
    # The session the browser held before is ended, not kept alongside.
    assert db.count("kavach_sessions") == 1


def test_signing_in_again_while_the_database_cannot_end_the_old_session_still_signs_in(
    db: TestDatabase,
    emu: AtlassianEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def unavailable(_: str) -> NoReturn:
        raise DatabaseUnavailableError

    app = emulated_app(db, emu)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        first_token = client.cookies["kavach_session"]
        monkeypatch.setattr(app.state.kavach.sessions, "revoke", unavailable)
        with caplog.at_level(logging.WARNING, logger="kavach_fastapi"):
            response = client.get(CALLBACK, params=approve(client, start_sign_in(client, "/app")))
        signed_in = client.get("/me")

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/app"
    assert client.cookies["kavach_session"] != first_token
    assert signed_in.status_code == 200
    assert "previous session was left to end at its own expiry" in caplog.text
    assert first_token not in caplog.text


def test_unknown_provider_is_404_json(client: TestClient) -> None:
    response = client.get("/api/kavach/auth/oauth/authorize/gitlab")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_provider"


def test_no_token_or_secret_reaches_any_log_line(
    client: TestClient, emu: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    callback = approve(client, start_sign_in(client))
    binding = client.cookies["kavach_signin"]
    client.get(CALLBACK, params=callback)
    session_token = client.cookies["kavach_session"]
    client.get("/me")
    client.post("/api/kavach/auth/sign-out")
    code_expired(emu)  # the next exchange fails: 403 invalid_grant
    refused = approve(client, start_sign_in(client))
    assert "error=" in client.get(CALLBACK, params=refused).headers["location"]

    # The test client logs its own requests, as a browser keeps its history: not the app's logs.
    app_records = [r for r in caplog.records if "http://testserver/" not in r.getMessage()]
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in app_records
    )
    for secret in (
        *issued_tokens(emu),
        emu.default_client.client_secret,
        callback["code"],
        callback["state"],
        refused["code"],
        binding,
        session_token,
    ):
        assert secret not in logged


def test_redirect_uri_follows_kavach_base_url_not_the_host_header(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    app = emulated_app(db, emu, base_url="https://app.example.com/api/kavach")
    with TestClient(app, follow_redirects=False, base_url="https://app.example.com") as client:
        response = client.get(AUTHORIZE, headers={"host": "evil.example"})

    assert consent_params(response)["redirect_uri"] == (
        "https://app.example.com/api/kavach/auth/oauth/callback/atlassian"
    )


def test_pkce_can_be_switched_off(
    db: TestDatabase, emu: AtlassianEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLASSIAN_USE_PKCE", "false")
    with TestClient(emulated_app(db, emu), follow_redirects=False) as client:
        consent_url = start_sign_in(client)
        finish_sign_in(client, consent_url)

    assert "code_challenge" not in query_of(consent_url)
    assert "code_verifier" not in emu.last_request["token"].form
    assert db.count("kavach_sessions") == 1


def test_redirect_location_never_carries_code_or_state(client: TestClient) -> None:
    response = sign_in(client, redirect_to="/x?keep=1")

    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query == {"keep": ["1"]}
