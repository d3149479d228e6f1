"""The Background jobs page: its nightly script runs as cron would run it, beside the app.

A person signs in to an app whose Atlassian is an emulator served on a loopback socket; then
``docs/examples/nightly_jira.py`` runs in a process of its own with only the app's environment,
once while the grant lives, and once after the person revoked the app at Atlassian.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import atlassian_provider, kavach_router
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import sign_in

from .conftest import DOCS, EXAMPLES, PREFIX, SECRET, load_example

SCRIPT = EXAMPLES / "nightly_jira.py"


@dataclass(frozen=True)
class App:
    emulator: AtlassianEmulator
    env: dict[str, str]
    user_id: str


@pytest.fixture
def signed_in(tmp_path: Path) -> Iterator[App]:
    emulator = AtlassianEmulator()
    with emulator.serve() as url:
        env = {
            "KAVACH_DATABASE_URL": f"sqlite:///{tmp_path / 'kavach.db'}",
            "KAVACH_SECRET": SECRET,
            "ATLASSIAN_CLIENT_ID": emulator.default_client.client_id,
            "ATLASSIAN_CLIENT_SECRET": emulator.default_client.client_secret,
            "ATLASSIAN_AUTH_URL": url,
            "ATLASSIAN_API_URL": url,
        }
        provider = atlassian_provider(
            env["ATLASSIAN_CLIENT_ID"],
            env["ATLASSIAN_CLIENT_SECRET"],
            scopes=["read:jira-user"],
            auth_url=url,
            api_url=url,
        )
        app = FastAPI()
        app.include_router(
            kavach_router(
                [provider],
                database_url=env["KAVACH_DATABASE_URL"],
                secret=SECRET,
                http_transport=httpx2.AsyncHTTPTransport(),
            ),
            prefix=PREFIX,
        )
        with TestClient(app) as client:
            sign_in(client, emulator)
            user_id = client.get(f"{PREFIX}/auth/session").json()["user"]["id"]
        yield App(emulator, env, user_id)


def run_script(app: App, *user_ids: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ATLASSIAN_", "KAVACH_"))
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and example
        [sys.executable, "-W", "error", str(SCRIPT), *user_ids],
        env={**environment, **app.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_nightly_job_reads_jira_as_the_person(signed_in: App) -> None:
    finished = run_script(signed_in, signed_in.user_id)

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == f"{signed_in.user_id}: done\n"
    assert "is Ada Lovelace on Acme Engineering" in finished.stderr


def test_the_nightly_job_reports_a_person_who_must_consent_again(signed_in: App) -> None:
    signed_in.emulator.revoke_grant(signed_in.emulator.users[0].account_id)
    # An access token outlives a revocation nowhere: the emulator refuses it at once, the job
    # refreshes once, hears invalid_grant, and marks the grant.
    finished = run_script(signed_in, signed_in.user_id, "0" * 32)

    assert finished.returncode == 1
    assert finished.stdout == f"{signed_in.user_id}: needs consent\n{'0' * 32}: needs consent\n"
    assert "Traceback" not in finished.stderr


def test_the_nightly_job_goes_on_when_atlassian_refuses_the_apps_credentials(
    signed_in: App,
) -> None:
    # The secret was rotated in the developer console; the job still has the old one.
    signed_in.emulator.default_client.client_secret = "rotated-in-the-console"
    database = signed_in.env["KAVACH_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:  # the access token expired: a refresh is due
        connection.execute(
            "UPDATE kavach_accounts SET access_token_expires_at = ?",
            ((datetime.now(timezone.utc) - timedelta(hours=1)).replace(tzinfo=None),),
        )
    finished = run_script(signed_in, signed_in.user_id, "0" * 32)

    assert finished.returncode == 1
    assert finished.stdout == (
        f"{signed_in.user_id}: check the app's Atlassian credentials\n{'0' * 32}: needs consent\n"
    )
    assert "Traceback" not in finished.stderr


def test_the_page_runs_the_nightly_script_from_cron() -> None:
    page = (DOCS / "background-jobs.md").read_text()

    assert '--8<-- "docs/examples/nightly_jira.py"' in page
    assert re.search(r"^\S+(\s+\S+){4}\s+cd .*python nightly_jira\.py ", page, re.M)


async def test_the_arq_worker_opens_kavach_once_and_its_task_acts_as_the_person(
    signed_in: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in signed_in.env.items():
        monkeypatch.setenv(name, value)
    worker = load_example("arq_worker")
    ctx: dict[str, Any] = {}

    await worker.startup(ctx)
    try:
        names = await worker.jira_names(ctx, signed_in.user_id)
        stranger = await worker.jira_names(ctx, "0" * 32)
    finally:
        await worker.shutdown(ctx)

    assert names == ["Ada Lovelace"]
    assert stranger is None
    assert worker.WorkerSettings.functions == (worker.jira_names,)
    assert not ctx["kavach"].runtime.started
