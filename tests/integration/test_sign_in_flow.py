"""The whole sign-in, over the real ASGI app, with Atlassian faked at the HTTP transport.

Every test runs on SQLite and on PostgreSQL (the ``db`` fixture behind ``app`` and ``client``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient

from kavach_fastapi.crypto import hash_token

from ..databases import TestDatabase, ago
from .conftest import (
    AUTHORIZE,
    CALLBACK,
    another_browser,
    build_app,
    consent_params,
    finish_sign_in,
    sign_in,
    start_sign_in,
)
from .fake_atlassian import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, Answer, FakeAtlassian


def assert_nothing_written(db: TestDatabase) -> None:
    for table in ("kavach_users", "kavach_accounts", "kavach_sessions"):
        assert db.count(table) == 0, table


def test_authorize_redirects_to_consent_with_state_pkce_audience_and_prompt(
    client: TestClient,
) -> None:
    response = client.get(AUTHORIZE)

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://auth.test/authorize?")
    params = consent_params(response)
    assert params["client_id"] == "test-client-id"
    assert params["response_type"] == "code"
    assert params["audience"] == "api.atlassian.com"
    assert params["prompt"] == "consent"
    assert params["scope"] == "read:me offline_access"
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
    state = start_sign_in(client)
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


def test_current_user_recognises_the_person_on_later_requests(client: TestClient) -> None:
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
    client: TestClient, fake: FakeAtlassian
) -> None:
    response = client.get(AUTHORIZE)
    challenge = consent_params(response)["code_challenge"]
    finish_sign_in(client, consent_params(response)["state"])

    token_request = fake.requests[0]
    body = parse_qs(token_request.content.decode())
    assert body["grant_type"] == ["authorization_code"]
    assert body["client_id"] == ["test-client-id"]
    assert body["client_secret"] == [CLIENT_SECRET]
    assert body["redirect_uri"] == ["http://testserver/api/kavach/auth/oauth/callback/atlassian"]
    assert "authorization" not in token_request.headers
    verifier = body["code_verifier"][0]
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert expected.decode().rstrip("=") == challenge
    assert fake.requests[1].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_replayed_callback_is_refused_and_creates_nothing_more(
    client: TestClient, db: TestDatabase
) -> None:
    state = start_sign_in(client, "/here")
    assert finish_sign_in(client, state).status_code == 303
    sessions_before = db.count("kavach_sessions")

    replay = finish_sign_in(client, state)

    assert replay.status_code == 303
    assert replay.headers["location"] == "/?error=invalid_state"
    assert "set-cookie" not in replay.headers
    assert db.count("kavach_sessions") == sessions_before


def test_callback_opened_in_another_browser_does_not_sign_it_in(
    client: TestClient, db: TestDatabase
) -> None:
    state = start_sign_in(client)

    with another_browser(client) as other_browser:
        response = finish_sign_in(other_browser, state)
        assert other_browser.get("/me").status_code == 401

    assert response.headers["location"] == "/?error=browser_mismatch"
    assert "set-cookie" not in response.headers
    assert_nothing_written(db)


def test_callback_with_a_foreign_binding_cookie_is_refused(
    client: TestClient, db: TestDatabase
) -> None:
    state = start_sign_in(client)
    client.cookies.clear()
    client.cookies.set("kavach_signin", "x" * 43)

    response = finish_sign_in(client, state)

    assert response.headers["location"] == "/?error=browser_mismatch"
    assert_nothing_written(db)


def test_unknown_state_is_refused(client: TestClient, db: TestDatabase) -> None:
    start_sign_in(client)

    response = finish_sign_in(client, "n" * 43)

    assert response.headers["location"] == "/?error=invalid_state"
    assert_nothing_written(db)


def test_missing_state_is_refused(client: TestClient) -> None:
    response = client.get(CALLBACK, params={"code": "abc"})

    assert response.status_code == 303
    assert response.headers["location"] == "/?error=invalid_state"


def test_attempt_older_than_ten_minutes_is_refused(client: TestClient, db: TestDatabase) -> None:
    state = start_sign_in(client, "/later")
    db.execute("UPDATE kavach_sign_in_attempts SET expires_at = :at", at=ago(seconds=1))

    response = finish_sign_in(client, state)

    assert response.headers["location"] == "/later?error=sign_in_expired"
    assert_nothing_written(db)


def test_attempt_is_single_use_even_when_it_fails(client: TestClient, db: TestDatabase) -> None:
    state = start_sign_in(client)
    finish_sign_in(client, state, error="access_denied")

    assert db.count("kavach_sign_in_attempts") == 0
    assert finish_sign_in(client, state).headers["location"] == "/?error=invalid_state"


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
    fake: FakeAtlassian,
    provider_error: str,
    code: str,
) -> None:
    state = start_sign_in(client, "/welcome?from=atl")

    response = client.get(
        CALLBACK,
        params={"state": state, "error": provider_error, "error_description": "nope"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/welcome?from=atl&error={code}"
    assert fake.requests == []
    assert_nothing_written(db)


def test_callback_naming_another_issuer_is_refused(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    state = start_sign_in(client)

    response = finish_sign_in(client, state, iss="https://evil.example")

    assert response.headers["location"] == "/?error=issuer_mismatch"
    assert fake.requests == []
    assert_nothing_written(db)


TOKEN_FAILURES: dict[str, tuple[Answer, str]] = {
    "timeout": (httpx2.ReadTimeout("slow"), "provider_unavailable"),
    "unreachable": (httpx2.ConnectError("down"), "provider_unavailable"),
    "invalid_grant": (
        httpx2.Response(403, json={"error": "invalid_grant", "error_description": "bad code"}),
        "token_exchange_failed",
    ),
    "unauthorized": (
        httpx2.Response(401, json={"error": "access_denied", "error_description": "Unauthorized"}),
        "token_exchange_failed",
    ),
    "server_error": (httpx2.Response(500, text="oops"), "token_exchange_failed"),
    "bad_gateway_json": (httpx2.Response(502, json={"message": "bad"}), "token_exchange_failed"),
    "malformed_json": (httpx2.Response(200, text="{not json"), "token_exchange_failed"),
    "json_array": (httpx2.Response(200, json=["a"]), "token_exchange_failed"),
    "no_access_token": (httpx2.Response(200, json={"expires_in": 3600}), "token_exchange_failed"),
    "redirect": (
        httpx2.Response(302, headers={"location": "https://evil.example/token"}),
        "token_exchange_failed",
    ),
}


PROFILE_FAILURES: dict[str, tuple[Answer, str]] = {
    "timeout": (httpx2.ReadTimeout("slow"), "provider_unavailable"),
    "unauthorized": (httpx2.Response(401, json={"message": "no"}), "profile_fetch_failed"),
    "server_error": (httpx2.Response(503, text="down"), "profile_fetch_failed"),
    "malformed_json": (httpx2.Response(200, text="<html>"), "profile_fetch_failed"),
    "not_an_object": (httpx2.Response(200, json=[1, 2]), "profile_fetch_failed"),
    "no_account_id": (httpx2.Response(200, json={"email": "a@b.c"}), "profile_fetch_failed"),
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
    client: TestClient, db: TestDatabase, fake: FakeAtlassian, endpoint: str, failure: str
) -> None:
    answer, code = FAILURES[endpoint, failure]
    setattr(fake, endpoint, answer)
    state = start_sign_in(client, "/app")

    response = finish_sign_in(client, state)

    assert response.status_code == 303
    assert response.headers["location"] == f"/app?error={code}"
    assert "set-cookie" not in response.headers
    if endpoint == "token":
        assert fake.paths() == ["/oauth/token"]  # no profile fetch after a failed exchange
    assert_nothing_written(db)


def test_json_client_gets_a_502_json_error_when_the_exchange_fails(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    fake.token = httpx2.Response(500, text="oops")
    state = start_sign_in(client)

    response = client.get(
        CALLBACK,
        params={"state": state, "code": "c0de"},
        headers={"accept": "application/json"},
    )

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "token_exchange_failed"
    assert set(response.json()["error"]) == {"code", "message"}
    assert response.headers["cache-control"] == "no-store"
    assert_nothing_written(db)


@pytest.mark.parametrize("status", ["inactive", "closed"])
def test_closed_or_inactive_account_is_refused_with_its_own_code(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian, status: str
) -> None:
    fake.set_profile(account_status=status)
    state = start_sign_in(client)

    response = finish_sign_in(client, state)

    assert response.headers["location"] == "/?error=account_disabled"
    assert_nothing_written(db)


def test_tokens_are_encrypted_at_rest(client: TestClient, db: TestDatabase) -> None:
    sign_in(client)
    session_token = client.cookies["kavach_session"]

    raw = db.at_rest()
    assert ACCESS_TOKEN.encode() not in raw
    assert REFRESH_TOKEN.encode() not in raw
    assert session_token.encode() not in raw
    assert hash_token(session_token).encode() in raw


def test_signing_in_again_refreshes_the_profile_and_issues_a_new_session(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    sign_in(client)
    first_user = client.get("/me").json()
    first_token = client.cookies["kavach_session"]

    fake.set_profile(name="Ada King", picture="https://avatars.example/ada2.png")
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


def test_unknown_provider_is_404_json(client: TestClient) -> None:
    response = client.get("/api/kavach/auth/oauth/authorize/gitlab")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_provider"


def test_no_token_or_secret_reaches_any_log_line(
    client: TestClient, fake: FakeAtlassian, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    state = start_sign_in(client)
    binding = client.cookies["kavach_signin"]
    finish_sign_in(client, state)
    session_token = client.cookies["kavach_session"]
    client.get("/me")
    client.post("/api/kavach/auth/sign-out")
    fake.token = httpx2.Response(403, json={"error": "invalid_grant"})
    finish_sign_in(client, start_sign_in(client))

    # The test client logs its own requests, as a browser keeps its history: not the app's logs.
    app_records = [r for r in caplog.records if "http://testserver/" not in r.getMessage()]
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in app_records
    )
    for secret in (
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        CLIENT_SECRET,
        "authorization-code-1",
        state,
        binding,
        session_token,
    ):
        assert secret not in logged


def test_redirect_uri_follows_kavach_base_url_not_the_host_header(
    db: TestDatabase, fake: FakeAtlassian
) -> None:
    app = build_app(db, fake, base_url="https://app.example.com/api/kavach")
    with TestClient(app, follow_redirects=False, base_url="https://app.example.com") as client:
        response = client.get(AUTHORIZE, headers={"host": "evil.example"})

    assert consent_params(response)["redirect_uri"] == (
        "https://app.example.com/api/kavach/auth/oauth/callback/atlassian"
    )


def test_pkce_can_be_switched_off(
    db: TestDatabase, fake: FakeAtlassian, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLASSIAN_USE_PKCE", "false")
    app = build_app(db, fake)
    with TestClient(app, follow_redirects=False) as client:
        response = client.get(AUTHORIZE)
        params = consent_params(response)
        finish_sign_in(client, params["state"])

    assert "code_challenge" not in params
    assert "code_verifier" not in parse_qs(fake.requests[0].content.decode())
    assert db.count("kavach_sessions") == 1


def test_redirect_location_never_carries_code_or_state(client: TestClient) -> None:
    response = sign_in(client, redirect_to="/x?keep=1")

    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query == {"keep": ["1"]}
