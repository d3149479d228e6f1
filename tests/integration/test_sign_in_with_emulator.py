"""The sign-in flow against the Atlassian emulator: the real protocol, end to end, in-process.

The emulator checks what Atlassian checks (registered redirect URI, client secret in the body,
PKCE, single-use codes), so these tests prove the package speaks the protocol correctly; the
failures of each step are in ``test_sign_in_flow.py``, also through the emulator. Answers no
real Atlassian gives (a token endpoint that redirects, or answers a list) are refused one layer
down, by the OAuth client (``tests/unit/test_oauth.py``). Every test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import (
    atlassian_provider,
)
from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser, Fault
from kavach_fastapi.testing import EMULATOR_URL, emulator_provider, emulator_transport, sign_in

from ..databases import TestDatabase
from ..support.apps import build_app
from .conftest import AUTHORIZE, CALLBACK, SECRET

# The plugin's ``kavach_client`` asks for ``kavach_app`` (and so for ``db``) only while it runs,
# too late for pytest to parametrize; naming ``db`` here makes every test run on both databases.
pytestmark = pytest.mark.usefixtures("db")


def build_emulated_app(
    database: TestDatabase, emulator: AtlassianEmulator, **options: Any
) -> FastAPI:
    provider = options.pop("provider", None) or emulator_provider(emulator)
    options.setdefault("http_transport", emulator_transport(emulator))
    return build_app([provider], database_url=database.url, secret=SECRET, **options)


@pytest.fixture
def kavach_app(db: TestDatabase, atlassian_emulator: AtlassianEmulator) -> FastAPI:
    return build_emulated_app(db, atlassian_emulator)


def test_signed_in_client_fixture_knows_the_person(kavach_signed_in_client: TestClient) -> None:
    me = kavach_signed_in_client.get("/me").json()

    assert me["name"] == "Ada Lovelace"
    assert me["email"] == "ada@example.com"
    assert me["email_verified"] is True
    assert me["image"].startswith(f"{EMULATOR_URL}/avatars/")


def test_sites_granted_on_the_consent_page_are_the_persons_sites(
    kavach_signed_in_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sites = kavach_signed_in_client.get("/sites").json()

    assert {site["id"] for site in sites} == {site.id for site in atlassian_emulator.sites}
    jira = next(site for site in sites if site["name"] == "Acme Engineering")
    assert "read:jira-user" in jira["scopes"]


def test_the_token_request_carries_secret_and_pkce_verifier_in_the_body(
    kavach_signed_in_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    token_request = atlassian_emulator.last_request["token"]

    assert token_request.form["grant_type"] == "authorization_code"
    assert token_request.form["client_secret"] == atlassian_emulator.default_client.client_secret
    assert len(token_request.form["code_verifier"]) >= 43
    assert "authorization" not in token_request.headers
    assert atlassian_emulator.calls["authorization_code"] == 1
    assert atlassian_emulator.calls["me"] == 1


def test_consent_asks_for_the_default_scopes_plus_extras(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    response = kavach_client.get(AUTHORIZE)
    query = parse_qs(urlsplit(response.headers["location"]).query)

    assert query["scope"] == ["read:me offline_access read:jira-user"]
    assert query["audience"] == ["api.atlassian.com"]
    assert query["prompt"] == ["consent"]


def test_declining_on_the_consent_page_lands_with_access_denied(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator, db: TestDatabase
) -> None:
    response = kavach_client.get(AUTHORIZE, params={"redirect_to": "/welcome"})
    consent_url = response.headers["location"]
    callback = asyncio.run(atlassian_emulator.decline(consent_url))
    parts = urlsplit(callback)

    landed = kavach_client.get(f"{parts.path}?{parts.query}")

    assert landed.headers["location"] == "/welcome?error=access_denied"
    assert db.count("kavach_users") == 0
    assert atlassian_emulator.calls["token"] == 0


def test_someone_else_can_sign_in_as_themselves(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    grace = atlassian_emulator.users[1]

    sign_in(kavach_client, atlassian_emulator, user=grace)

    assert kavach_client.get("/me").json()["name"] == grace.name


def test_sites_left_unchecked_are_not_listed(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    first = atlassian_emulator.sites[0]

    sign_in(kavach_client, atlassian_emulator, site_ids=[first.id])

    assert [site["id"] for site in kavach_client.get("/sites").json()] == [first.id]


def test_no_site_granted_is_an_empty_list(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    sign_in(kavach_client, atlassian_emulator, site_ids=[])

    assert kavach_client.get("/sites").json() == []


@pytest.mark.parametrize("status", ["inactive", "closed"])
def test_an_inactive_or_closed_atlassian_account_cannot_sign_in(
    db: TestDatabase, status: str
) -> None:
    emulator = AtlassianEmulator(
        users=[
            EmulatedUser(
                account_id="712020:closed",
                name="Old Account",
                email="old@example.com",
                account_status=status,
            )
        ]
    )
    app = build_emulated_app(db, emulator)
    with TestClient(app, follow_redirects=False) as client:
        with pytest.raises(AssertionError, match="error=account_disabled"):
            sign_in(client, emulator)
        signed_in = client.get("/me").status_code
    assert signed_in == 401
    assert db.count("kavach_users") == 0


def test_a_hidden_email_signs_in_without_one(db: TestDatabase) -> None:
    emulator = AtlassianEmulator(
        users=[EmulatedUser(account_id="712020:private", name="Private Person", email=None)]
    )
    app = build_emulated_app(db, emulator)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, emulator)
        me = client.get("/me").json()

    assert me["email"] is None
    assert me["email_verified"] is False


def test_an_unregistered_callback_url_stops_at_atlassians_error_page(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    atlassian_emulator.default_client.redirect_uris.clear()
    consent_url = kavach_client.get(AUTHORIZE).headers["location"]
    parts = urlsplit(consent_url)

    page = _page(atlassian_emulator, f"{parts.path}?{parts.query}")

    assert page.status_code == 400
    assert "location" not in page.headers
    assert "redirect" in page.text.lower()


def _page(emulator: AtlassianEmulator, url: str) -> httpx2.Response:
    """What a browser gets when it opens ``url`` on the emulator."""
    with TestClient(emulator.app, follow_redirects=False) as browser:
        page: httpx2.Response = browser.get(url)
    return page


def test_a_wrong_client_secret_fails_the_exchange_and_writes_nothing(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    wrong = atlassian_provider(
        atlassian_emulator.default_client.client_id,
        "not-the-secret",
        auth_url=EMULATOR_URL,
        api_url=EMULATOR_URL,
    )
    app = build_emulated_app(db, atlassian_emulator, provider=wrong)
    with (
        TestClient(app, follow_redirects=False) as client,
        pytest.raises(AssertionError, match="error=token_exchange_failed"),
    ):
        sign_in(client, atlassian_emulator)

    assert atlassian_emulator.calls["authorization_code"] == 1
    assert db.count("kavach_users") == 0
    assert db.count("kavach_sessions") == 0


@pytest.mark.parametrize(
    ("endpoint", "fault", "code"),
    [
        ("authorization_code", Fault("status", status=500), "token_exchange_failed"),
        ("authorization_code", Fault("rate_limit", retry_after=30), "token_exchange_failed"),
        ("authorization_code", Fault("malformed_json"), "token_exchange_failed"),
        ("me", Fault("status", status=503), "profile_fetch_failed"),
        ("me", Fault("malformed_json"), "profile_fetch_failed"),
    ],
)
def test_emulator_faults_during_the_callback_write_nothing(
    kavach_client: TestClient,
    atlassian_emulator: AtlassianEmulator,
    db: TestDatabase,
    endpoint: str,
    fault: Fault,
    code: str,
) -> None:
    atlassian_emulator.faults.add(endpoint, fault)  # type: ignore[arg-type]

    with pytest.raises(AssertionError, match=f"error={code}"):
        sign_in(kavach_client, atlassian_emulator)

    for table in ("kavach_users", "kavach_accounts", "kavach_sessions"):
        assert db.count(table) == 0


def test_a_slow_token_endpoint_times_out_cleanly(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator, atlassian_emulator_url: str
) -> None:
    # Timeouts only exist on a real socket: this app reaches the emulator over loopback.
    atlassian_emulator.faults.add("authorization_code", Fault("latency", seconds=1.0))
    app = build_app(
        [emulator_provider(atlassian_emulator, base_url=atlassian_emulator_url)],
        database_url=db.url,
        secret=SECRET,
        http_timeout=0.2,
    )
    with (
        TestClient(app, follow_redirects=False) as client,
        pytest.raises(AssertionError, match="error=provider_unavailable"),
    ):
        sign_in(client, atlassian_emulator)

    assert db.count("kavach_sessions") == 0


def test_a_replayed_callback_never_reaches_atlassian_again(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    response = kavach_client.get(AUTHORIZE)
    consent_url = response.headers["location"]
    callback = asyncio.run(atlassian_emulator.approve(consent_url))
    parts = urlsplit(callback)
    first = kavach_client.get(f"{parts.path}?{parts.query}")
    replay = kavach_client.get(f"{parts.path}?{parts.query}")

    assert first.status_code == 303
    assert replay.headers["location"] == "/?error=invalid_state"
    assert atlassian_emulator.calls["authorization_code"] == 1
    assert CALLBACK in parts.path
