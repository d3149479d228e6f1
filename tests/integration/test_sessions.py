"""Sessions: cookie attributes, bearer use, expiry, sign-out and the session endpoints.

Every test runs on SQLite and on PostgreSQL (the ``db`` fixture behind ``app`` and ``client``),
and signs in through the emulator's consent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator

from ..databases import TestDatabase, ago
from .conftest import PREFIX, emulated_app
from .conftest import sign_in_at_emulator as sign_in

SESSION = f"{PREFIX}/auth/session"


@pytest.fixture
def app(db: TestDatabase, emu: AtlassianEmulator) -> FastAPI:
    """The app of every test here signs in through the emulator (overrides conftest's)."""
    return emulated_app(db, emu)


SIGN_OUT = f"{PREFIX}/auth/sign-out"


def test_session_endpoint_is_401_json_when_nobody_is_signed_in(client: TestClient) -> None:
    response = client.get(SESSION)

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_signed_in", "message": "Sign in to continue."}
    }
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_session_endpoint_describes_user_and_expiry(client: TestClient) -> None:
    sign_in(client)

    response = client.get(SESSION)

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert set(body["session"]) == {"expires_at"}
    assert response.headers["cache-control"] == "no-store"


def test_current_user_is_401_json_and_optional_user_is_none_when_signed_out(
    client: TestClient,
) -> None:
    assert client.get("/me").status_code == 401
    assert client.get("/me").json()["error"]["code"] == "not_signed_in"
    assert client.get("/maybe").json() == {"user_id": None}


def test_optional_user_gives_the_user_when_signed_in(client: TestClient) -> None:
    sign_in(client)

    assert client.get("/maybe").json()["user_id"] == client.get("/me").json()["id"]


def test_session_token_works_as_a_bearer_token(client: TestClient, db: TestDatabase) -> None:
    sign_in(client)
    token = client.cookies["kavach_session"]
    client.cookies.clear()

    assert client.get("/me").status_code == 401
    response = client.get("/me", headers={"authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-session", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 5000],
)
def test_garbage_bearer_tokens_are_401_not_500(client: TestClient, header: str) -> None:
    response = client.get("/me", headers={"authorization": header})

    assert response.status_code == 401


@pytest.mark.parametrize("cookie", ["", "garbage", "x" * 10_000, "%C3%A9" * 20, "a;b=c"])
def test_garbage_session_cookies_are_401_not_500(client: TestClient, cookie: str) -> None:
    client.cookies.set("kavach_session", cookie)

    assert client.get("/me").status_code == 401


def test_stored_session_hash_is_not_usable_as_a_cookie(client: TestClient) -> None:
    sign_in(client)
    stolen = hash_token(client.cookies["kavach_session"])
    client.cookies.clear()

    assert client.get("/me", headers={"authorization": f"Bearer {stolen}"}).status_code == 401


@pytest.mark.parametrize(
    ("column", "aged"),
    [
        pytest.param("expires_at", ago(seconds=1), id="absolute-expiry"),
        pytest.param("last_active_at", ago(hours=25), id="idle-timeout"),
    ],
)
def test_a_session_that_worked_ends_once_its_row_is_past_expiry_or_idle_timeout(
    db: TestDatabase, emu: AtlassianEmulator, column: str, aged: datetime
) -> None:
    # No per-process cache: the request after the ageing must be decided by the row.
    app = emulated_app(db, emu, session_cache_seconds=0)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        worked = client.get("/me")
        db.execute(f"UPDATE kavach_sessions SET {column} = :at", at=aged)  # noqa: S608
        ended = client.get("/me")

    assert worked.status_code == 200
    assert ended.status_code == 401


def test_activity_keeps_a_session_within_the_idle_timeout(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    # No per-process cache: each request below must be decided by the row in the database.
    app = emulated_app(db, emu, session_idle_timeout=timedelta(hours=1), session_cache_seconds=0)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        db.execute("UPDATE kavach_sessions SET last_active_at = :at", at=ago(minutes=50))
        assert client.get("/me").status_code == 200
        (session,) = db.records("kavach_sessions")
        assert session["last_active_at"] > ago(minutes=1)  # the request recorded activity
        db.execute(
            "UPDATE kavach_sessions SET last_active_at = :at",
            at=session["last_active_at"] - timedelta(minutes=30),
        )
        # The request above recorded activity "now"; 30 minutes before that is still fresh.
        assert client.get("/me").status_code == 200


def test_activity_gathered_in_memory_is_written_when_the_app_shuts_down(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    # Remembering on (the default): activity is gathered for a second before its write, and
    # the client leaves at once, so only the shutdown can have written it.
    app = emulated_app(db, emu, session_idle_timeout=timedelta(hours=1))
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        db.execute("UPDATE kavach_sessions SET last_active_at = :at", at=ago(minutes=50))
        assert client.get("/me").status_code == 200  # looked up: its activity is due
        (before,) = db.records("kavach_sessions")
        assert before["last_active_at"] < ago(minutes=49)  # gathered, not written yet

    (after,) = db.records("kavach_sessions")
    assert after["last_active_at"] > ago(minutes=1)


def test_session_lifetime_is_configurable(db: TestDatabase, emu: AtlassianEmulator) -> None:
    app = emulated_app(db, emu, session_lifetime=timedelta(hours=2))
    with TestClient(app, follow_redirects=False) as client:
        response = sign_in(client)

    assert "Max-Age=7200" in response.headers["set-cookie"]


def test_sign_out_deletes_the_session_and_expires_the_cookie(
    client: TestClient, db: TestDatabase
) -> None:
    sign_in(client)
    token = client.cookies["kavach_session"]

    response = client.post(SIGN_OUT, headers={"origin": "http://testserver"})

    assert response.status_code == 200
    assert response.json() == {"signed_out": True}
    assert 'kavach_session=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert db.count("kavach_sessions") == 0
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_sign_out_with_redirect_to_answers_303(client: TestClient) -> None:
    sign_in(client)

    response = client.post(SIGN_OUT, params={"redirect_to": "/bye"})

    assert response.status_code == 303
    assert response.headers["location"] == "/bye"


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_cross_site_sign_out_is_refused_and_the_session_survives(
    client: TestClient, db: TestDatabase, headers: dict[str, str]
) -> None:
    sign_in(client)

    response = client.post(SIGN_OUT, headers=headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cross_site_request"
    assert db.count("kavach_sessions") == 1
    assert client.get("/me").status_code == 200


def test_sign_out_is_not_reachable_by_get(client: TestClient) -> None:
    sign_in(client)

    assert client.get(SIGN_OUT).status_code == 405
    assert client.get("/me").status_code == 200


def test_sign_out_without_a_session_still_clears_the_cookie(client: TestClient) -> None:
    response = client.post(SIGN_OUT, headers={"sec-fetch-site": "same-origin"})

    assert response.status_code == 200
    assert "Max-Age=0" in response.headers["set-cookie"]


def test_https_base_url_makes_secure_host_prefixed_cookies(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    app = emulated_app(db, emu, base_url="https://app.example.com/api/kavach")
    with TestClient(app, follow_redirects=False, base_url="https://app.example.com") as client:
        authorize = client.get(f"{PREFIX}/auth/oauth/authorize/atlassian")
        response = sign_in(client)
        me = client.get("/me")

    binding_cookie = authorize.headers["set-cookie"]
    assert binding_cookie.startswith("__Host-kavach_signin=")
    assert "Secure" in binding_cookie
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-kavach_session=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/" in cookie
    assert "Domain" not in cookie
    assert me.status_code == 200


def test_providers_endpoint_lists_atlassian(client: TestClient) -> None:
    response = client.get(f"{PREFIX}/auth/oauth/providers")

    assert response.json() == [{"id": "atlassian", "name": "Atlassian"}]


def test_accounts_endpoint_lists_linked_accounts_without_tokens(
    client: TestClient, emu: AtlassianEmulator
) -> None:
    assert client.get(f"{PREFIX}/auth/oauth/accounts").status_code == 401
    sign_in(client)

    response = client.get(f"{PREFIX}/auth/oauth/accounts")

    assert response.status_code == 200
    (account,) = response.json()
    assert account["provider"] == "atlassian"
    assert account["account_id"] == emu.users[0].account_id
    (grant,) = emu.state.grants.values()
    assert account["scopes"] == list(grant.scopes)  # what Atlassian granted, as it said
    assert {"read:me", "offline_access"} <= set(account["scopes"])
    issued = [*emu.state.access_tokens, *emu.state.refresh_tokens]
    assert issued
    assert all(token not in response.text for token in issued)
    assert "token" not in response.text


def test_openapi_schema_lists_error_codes_and_no_secrets(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    callback = schema["paths"][f"{PREFIX}/auth/oauth/callback/{{provider}}"]["get"]
    assert "token_exchange_failed" in callback["responses"]["502"]["description"]
    assert "ErrorBody" in str(schema["components"]["schemas"])
    assert "secret" not in str(schema).lower()
