"""Scope changes are noticed: a grant lacking a scope is asked to consent again, not failed later.

Each grant keeps the scopes the token answers said were granted. When the app's configured
scopes grow, a grant made before is answered ``reauth_required`` with a ``reauth_url`` for the
configured scopes; a route that needs more than the configured scopes says so with
``require_atlassian_scopes``, whose ``reauth_url`` asks for the missing ones. Every test runs
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import KavachHooks, ReauthEvent, require_atlassian_scopes
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.providers.base import missing_scopes
from kavach_fastapi.testing import sign_in

from ..databases import TestDatabase
from .conftest import query_of
from .policy_apps import NOTHING, PREFIX, landing_query, policy_app, row_counts, started

AUTHORIZE = f"http://testserver{PREFIX}/auth/oauth/authorize/atlassian"


def _scopes_of_consent(location: str) -> list[str]:
    return parse_qs(urlsplit(location).query)["scope"][0].split()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@contextmanager
def signed_in(app: FastAPI, emulator: AtlassianEmulator) -> Iterator[TestClient]:
    """A client of the app, its lifespan run, with the emulator's first person signed in."""
    with started(app) as client:
        sign_in(client, emulator)
        yield client


def test_a_grant_made_before_the_app_asked_for_more_scopes_must_consent_again(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    before = policy_app(db, atlassian_emulator, scopes=("read:jira-user",))
    with signed_in(before, atlassian_emulator) as client:
        user_id = client.get("/me").json()["id"]
        session = client.cookies["kavach_session"]

    events: list[ReauthEvent] = []

    async def on_reauth(event: ReauthEvent) -> None:
        events.append(event)

    wider = ("read:jira-user", "read:jira-work")
    after = policy_app(
        db, atlassian_emulator, scopes=wider, hooks=KavachHooks(reauth_needed=on_reauth)
    )
    with started(after) as client:
        client.cookies.set("kavach_session", session)
        assert client.get("/me").status_code == 200  # still signed in to the app
        answer = client.get("/token")
        assert answer.status_code == 401
        error = answer.json()["error"]
        assert error["code"] == "reauth_required"
        assert error["reauth_url"] == AUTHORIZE
        assert events == [ReauthEvent(user_id, "atlassian", "missing_scopes", ("read:jira-work",))]

        consent = client.get(_path(error["reauth_url"]))
        assert "read:jira-work" in _scopes_of_consent(consent.headers["location"])
        sign_in(client, atlassian_emulator)
        assert client.get("/token").status_code == 200

    granted = db.scalar("SELECT scopes FROM kavach_accounts")
    assert {"read:jira-user", "read:jira-work"} <= set(granted.split())


def test_a_sign_in_whose_grant_lacks_a_configured_scope_is_refused_and_writes_nothing(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    with started(policy_app(db, atlassian_emulator, scopes=("read:jira-work",))) as client:
        consent = client.get(AUTHORIZE).headers["location"]
        # Someone takes read:jira-work off the consent URL; Atlassian grants what it then asks.
        narrowed = {**query_of(consent), "scope": "read:me offline_access"}
        url = urlsplit(consent)._replace(query=urlencode(narrowed)).geturl()
        answer = client.get(_path(asyncio.run(atlassian_emulator.approve(url))))
    (issued,) = atlassian_emulator.state.access_tokens.values()
    assert "read:jira-work" not in issued.scopes
    assert landing_query(answer) == {"error": "invalid_scope"}
    assert row_counts(db) == NOTHING


@pytest.fixture
def writer(db: TestDatabase, atlassian_emulator: AtlassianEmulator) -> FastAPI:
    """An app with a route that needs ``write:jira-work``, more than it asks at sign-in."""
    app = policy_app(db, atlassian_emulator)

    @app.post("/issues", dependencies=[Depends(require_atlassian_scopes("write:jira-work"))])
    async def create_issue() -> dict[str, bool]:
        return {"created": True}

    @app.get("/profile", dependencies=[Depends(require_atlassian_scopes("read:jira-user"))])
    async def profile() -> dict[str, bool]:
        return {"ok": True}

    return app


def test_require_atlassian_scopes_answers_reauth_required_with_a_url_for_the_missing_scopes(
    writer: FastAPI, atlassian_emulator: AtlassianEmulator
) -> None:
    with signed_in(writer, atlassian_emulator) as client:
        assert client.get("/profile").json() == {"ok": True}  # a scope the grant has

        answer = client.post("/issues")
        assert answer.status_code == 401
        error = answer.json()["error"]
        assert error["code"] == "reauth_required"
        assert "write:jira-work" in error["message"]
        assert error["reauth_url"].startswith(f"{AUTHORIZE}?extra_scopes=")

        consent = client.get(_path(error["reauth_url"]))
        assert consent.status_code == 302
        assert _scopes_of_consent(consent.headers["location"]) == [
            "read:me",
            "offline_access",
            "read:jira-user",
            "write:jira-work",
        ]
        callback = asyncio.run(atlassian_emulator.approve(consent.headers["location"]))
        assert landing_query(client.get(_path(callback))) == {}
        assert client.post("/issues").json() == {"created": True}


def test_an_extra_scopes_value_the_app_did_not_make_is_refused_and_starts_nothing(
    writer: FastAPI, db: TestDatabase
) -> None:
    with started(writer) as client:
        answer = client.get(
            f"{PREFIX}/auth/oauth/authorize/atlassian",
            params={"extra_scopes": "manage:jira-configuration"},
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"
    assert db.count("kavach_sign_in_attempts") == 0


def test_an_extra_scopes_value_too_long_to_be_sealed_is_refused_as_invalid_request_unechoed(
    writer: FastAPI, db: TestDatabase
) -> None:
    with started(writer) as client:
        answer = client.get(
            f"{PREFIX}/auth/oauth/authorize/atlassian", params={"extra_scopes": "x" * 4001}
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert set(answer.json()) == {"error"}
    assert "xxxx" not in answer.text
    assert db.count("kavach_sign_in_attempts") == 0


def test_a_sealed_extra_scopes_value_of_another_app_is_refused(
    writer: FastAPI, db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    with signed_in(writer, atlassian_emulator) as client:
        reauth = client.post("/issues").json()["error"]["reauth_url"]
    app = policy_app(db, atlassian_emulator, secret="another-secret-0123456789-abcdefghijklmnop")
    with started(app) as client:
        answer = client.get(_path(reauth))
    assert answer.status_code == 400


def test_require_atlassian_scopes_answers_not_signed_in_to_nobody(writer: FastAPI) -> None:
    with started(writer) as client:
        answer = client.post("/issues")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_signed_in"


@pytest.mark.parametrize("scopes", [(), ("read jira",), ("",), ("write:jira-work\n",)])
def test_require_atlassian_scopes_refuses_what_is_not_a_scope_name(
    scopes: tuple[str, ...],
) -> None:
    with pytest.raises(ValueError, match="scope"):
        require_atlassian_scopes(*scopes)


def test_missing_scopes_ignores_offline_access_and_cannot_judge_an_unknown_grant() -> None:
    wanted = ("read:me", "offline_access", "read:jira-work")
    assert missing_scopes(wanted, "read:me read:jira-work") == ()
    assert missing_scopes(wanted, "read:me") == ("read:jira-work",)
    assert missing_scopes(wanted, "") == ()
