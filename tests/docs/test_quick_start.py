"""The quick start's ten-line app, unchanged, signs people in against a served emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import sign_in

from .conftest import EXAMPLES, started_example


@pytest.mark.usefixtures("quickstart_environment")
def test_quick_start_app_signs_in_and_answers_me(
    atlassian_emulator: AtlassianEmulator, tmp_path: Path
) -> None:
    with started_example("quickstart_app") as client:
        before = client.get("/me")
        sign_in(client, atlassian_emulator, redirect_to="/me")
        after = client.get("/me")

    assert before.status_code == 401
    assert before.json()["error"]["code"] == "not_signed_in"
    assert after.status_code == 200
    assert after.json()["name"] == "Ada Lovelace"
    # With no KAVACH_DATABASE_URL, the data and its key live in the working folder.
    assert (tmp_path / "kavach.db").exists()
    assert (tmp_path / "kavach.db.secret").exists()


@pytest.mark.usefixtures("quickstart_environment")
def test_quick_start_app_lands_on_a_page_it_has_when_no_redirect_to_is_given(
    atlassian_emulator: AtlassianEmulator,
) -> None:
    with started_example("quickstart_app") as client:
        landed = sign_in(client, atlassian_emulator, redirect_to=None)
        page = client.get(landed.headers["location"])

    assert landed.headers["location"] == "/me"
    assert page.status_code == 200
    assert page.json()["name"] == "Ada Lovelace"


@pytest.mark.usefixtures("quickstart_environment")
def test_quick_start_authorize_url_leads_to_the_emulator(atlassian_emulator_url: str) -> None:
    with started_example("quickstart_app") as client:
        answer = client.get("/api/kavach/auth/oauth/authorize/atlassian?redirect_to=/me")

    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"{atlassian_emulator_url}/authorize?")


def test_quick_start_app_is_ten_lines() -> None:
    lines = (EXAMPLES / "quickstart_app.py").read_text().splitlines()
    assert len([line for line in lines if line.strip()]) <= 10
