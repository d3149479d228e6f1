"""The personal-data job of the "Atlassian's rules" page, against the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import privacy_job
import pytest
from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in

from .conftest import SECRET, app_with


def test_the_job_erases_a_closed_account_and_calls_the_apps_own_erasure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = AtlassianEmulator()
    ada, grace = emulator.users
    transport = emulator_transport(emulator)
    app = app_with([], emulator, transport, tmp_path / "kavach.db")
    with TestClient(app, follow_redirects=False) as client:
        for person in (ada, grace):
            sign_in(client, emulator, user=person)
            client.cookies.clear()
    emulator.privacy.close(ada.account_id)
    privacy_job.FORGOTTEN.clear()

    status = asyncio.run(
        privacy_job.main(
            providers=[emulator_provider(emulator)],
            database_url=f"sqlite:///{tmp_path / 'kavach.db'}",
            secret=SECRET,
            http_transport=transport,
        )
    )

    assert status == 0
    assert len(privacy_job.FORGOTTEN) == 1
    assert "reported 2 accounts, erased 1" in capsys.readouterr().out
