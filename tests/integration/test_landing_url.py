"""Where people land when a link names no ``redirect_to``: the app's ``landing_url``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator

from ..databases import TestDatabase
from .conftest import PREFIX, emulated_app, finish_sign_in, sign_in, start_sign_in

SIGN_OUT = f"{PREFIX}/auth/sign-out"
FORM = {"sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin", "accept": "text/html"}


@pytest.fixture
def client(db: TestDatabase, emu: AtlassianEmulator) -> Iterator[TestClient]:
    with TestClient(emulated_app(db, emu, landing_url="/me"), follow_redirects=False) as client:
        yield client


def test_a_sign_in_without_redirect_to_lands_on_the_landing_url(client: TestClient) -> None:
    landed = sign_in(client)

    assert landed.headers["location"] == "/me"
    assert client.get("/me").status_code == 200


def test_a_refused_redirect_to_lands_on_the_landing_url(client: TestClient) -> None:
    assert sign_in(client, "https://evil.example/").headers["location"] == "/me"


def test_a_redirect_to_still_wins_over_the_landing_url(client: TestClient) -> None:
    assert sign_in(client, "/maybe").headers["location"] == "/maybe"


def test_a_callback_for_an_unknown_sign_in_lands_on_the_landing_url_with_the_error(
    client: TestClient,
) -> None:
    answer = finish_sign_in(client, start_sign_in(client), state="not-a-state-we-made")

    assert answer.headers["location"] == "/me?error=invalid_state"


def test_the_landing_url_setting_is_read_from_the_environment(
    db: TestDatabase, emu: AtlassianEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAVACH_LANDING_URL", "/maybe")

    with TestClient(emulated_app(db, emu), follow_redirects=False) as client:
        assert sign_in(client).headers["location"] == "/maybe"


def test_signing_out_with_a_form_lands_on_the_landing_url(client: TestClient) -> None:
    sign_in(client)

    answer = client.post(SIGN_OUT, headers=FORM)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/me"
    assert client.get("/me").status_code == 401


def test_signing_out_from_a_script_still_answers_json(client: TestClient) -> None:
    sign_in(client)

    answer = client.post(
        SIGN_OUT, headers={"sec-fetch-mode": "cors", "sec-fetch-site": "same-origin"}
    )

    assert answer.status_code == 200
    assert answer.json() == {"signed_out": True}
