"""The Session management page: its admin example, and the endpoints it describes, through the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sign_out_everywhere
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import kavach_router
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in

from .conftest import PREFIX, SECRET

SESSIONS = f"{PREFIX}/auth/sessions"


@pytest.fixture
def app(atlassian_emulator: AtlassianEmulator, tmp_path: Path) -> FastAPI:
    """The page's wiring: the kavach router, and the admin routes given that router."""
    kavach = kavach_router(
        [emulator_provider(atlassian_emulator)],
        database_url=f"sqlite:///{tmp_path / 'kavach.db'}",
        secret=SECRET,
        http_transport=emulator_transport(atlassian_emulator),
    )
    app = FastAPI()
    app.include_router(kavach, prefix=PREFIX)
    app.include_router(sign_out_everywhere.admin_routes(kavach, admins={"grace@example.com"}))
    return app


@pytest.fixture
def ada(app: FastAPI, atlassian_emulator: AtlassianEmulator) -> Iterator[TestClient]:
    """A browser of the started app, Ada (the emulator's first person) signed in."""
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, atlassian_emulator)
        yield client


def browser_beside(client: TestClient) -> TestClient:
    """Another browser for the same started app (its own cookies, the same event loop)."""
    other = TestClient(client.app, base_url=str(client.base_url), follow_redirects=False)
    other.portal = client.portal
    return other


@pytest.fixture
def grace(ada: TestClient, atlassian_emulator: AtlassianEmulator) -> Iterator[TestClient]:
    """A browser beside Ada's, Grace (the emulator's second person, an admin) signed in."""
    with browser_beside(ada) as client:
        sign_in(client, atlassian_emulator, user=atlassian_emulator.users[1])
        yield client


def user_id(client: TestClient) -> str:
    """The id of the person signed in on ``client``."""
    return str(client.get(f"{PREFIX}/auth/session").json()["user"]["id"])


def test_an_admin_signs_a_person_out_of_every_device(
    ada: TestClient, grace: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    with browser_beside(ada) as adas_phone:
        sign_in(adas_phone, atlassian_emulator)
        assert len(ada.get(SESSIONS).json()) == 2

        response = grace.post(f"/admin/users/{user_id(ada)}/sign-out-everywhere")

        assert response.json() == {"ended": 2}
        assert ada.get(SESSIONS).status_code == 401
        assert adas_phone.get(SESSIONS).status_code == 401
        assert grace.get(SESSIONS).status_code == 200


def test_only_admins_may_sign_people_out(ada: TestClient, grace: TestClient) -> None:
    response = ada.post(f"/admin/users/{user_id(grace)}/sign-out-everywhere")

    assert response.status_code == 403
    assert grace.get(SESSIONS).status_code == 200


def test_a_person_signs_out_their_other_devices(
    ada: TestClient, atlassian_emulator: AtlassianEmulator
) -> None:
    """The page's walk-through: list, see "this device", sign out the others."""
    with browser_beside(ada) as phone:
        sign_in(phone, atlassian_emulator)
        sessions = ada.get(SESSIONS).json()
        assert [session["current"] for session in sessions] == [True, False]

        ended = ada.delete(SESSIONS)

        assert ended.json() == {"ended": 1, "signed_out": False}
        assert phone.get(SESSIONS).status_code == 401
        assert [session["id"] for session in ada.get(SESSIONS).json()] == [sessions[0]["id"]]
