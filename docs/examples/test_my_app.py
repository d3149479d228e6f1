"""Tests of an app that signs people in with Atlassian, run against the Atlassian emulator.

The fixtures `atlassian_emulator`, `kavach_emulator_provider`, `atlassian_emulator_transport`,
`kavach_client` and `kavach_signed_in_client` come with kavach-fastapi: no conftest.py needed.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import (
    AtlassianAPI,
    AtlassianProvider,
    CurrentUser,
    User,
    kavach_router,
)
from kavach_fastapi.emulator import AtlassianEmulator, Fault

JIRA_SITE = (
    "1f7c2a3e-9b4d-4c5a-8e6f-2d3b4c5a6e7f"  # the emulator's "Acme Engineering"
)


@pytest.fixture
def kavach_app(
    kavach_emulator_provider: AtlassianProvider,
    atlassian_emulator_transport: httpx2.ASGITransport,
    tmp_path: Path,
) -> FastAPI:
    """The app under test, signing in against the emulator, with a database of its own."""
    app = FastAPI()
    app.include_router(
        kavach_router(
            [kavach_emulator_provider],
            database_url=f"sqlite:///{tmp_path}/kavach.db",
            http_transport=atlassian_emulator_transport,
        ),
        prefix="/api/kavach",
    )

    @app.get("/me")
    async def me(user: CurrentUser) -> User:
        return user

    @app.get("/jira/{cloud_id}/myself")
    async def jira_myself(cloud_id: str, atlassian: AtlassianAPI) -> Any:
        return (await atlassian.get("jira", cloud_id, "/rest/api/3/myself")).json()

    return app


def test_signed_in_person_sees_their_profile(
    kavach_signed_in_client: TestClient,
) -> None:
    assert kavach_signed_in_client.get("/me").json()["name"] == "Ada Lovelace"


def test_nobody_signed_in_gets_401(kavach_client: TestClient) -> None:
    answer = kavach_client.get("/me")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_signed_in"


def test_expired_token_is_refreshed_once(
    kavach_signed_in_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    atlassian_emulator.clock.advance(
        timedelta(hours=2)
    )  # Atlassian's access token expired
    answer = kavach_signed_in_client.get(f"/jira/{JIRA_SITE}/myself")
    assert answer.json()["displayName"] == "Ada Lovelace"
    assert atlassian_emulator.calls["refresh"] == 1


def test_a_failing_refresh_is_retried(
    kavach_signed_in_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    atlassian_emulator.faults.add("refresh", Fault("status", status=503, times=1))
    atlassian_emulator.clock.advance(timedelta(hours=2))
    assert (
        kavach_signed_in_client.get(f"/jira/{JIRA_SITE}/myself").status_code == 200
    )


def test_revoked_grant_asks_for_consent_again(
    kavach_signed_in_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    atlassian_emulator.revoke_grant(atlassian_emulator.users[0].account_id)
    answer = kavach_signed_in_client.get(f"/jira/{JIRA_SITE}/myself")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "reauth_required"
    assert answer.json()["error"]["reauth_url"].endswith(
        "/auth/oauth/authorize/atlassian"
    )
