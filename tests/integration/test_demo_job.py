"""The demo's background job reads the person's Jira ``myself`` offline, beside the served demo.

The demo runs as ``uvicorn example_app.main:app`` with its emulator inside; a person signs in
over HTTP; then ``python -m example_app.job USER_ID --demo-url ...`` runs in a process of its
own, from the demo's folder with the demo's settings, as the README shows. The access token is
expired first, so the job refreshes the grant itself.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import bindparam, create_engine, text

from kavach_fastapi.tables import UTCDateTime, utcnow

from .served_apps import REPO, ServedApp, clean_environment, serve_with_uvicorn, sign_in_over_http

AUTHORIZE = "/api/kavach/auth/oauth/authorize/atlassian?redirect_to=/"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ServedApp]:
    env = clean_environment(PYTHONPATH=str(REPO))
    command = [sys.executable, "-W", "error", "-m", "uvicorn", "example_app.main:app"]
    with serve_with_uvicorn(command, env=env, cwd=tmp_path, ready_path="/") as served:
        yield served
        assert "Traceback" not in served.log(), served.log()


def job(demo: ServedApp, folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "example_app.job",
            *arguments,
            "--demo-url",
            demo.url,
        ],
        cwd=folder,
        env=clean_environment(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def expire_tokens(database: Path) -> None:
    engine = create_engine(f"sqlite:///{database}")
    statement = text("UPDATE kavach_accounts SET access_token_expires_at = :at").bindparams(
        bindparam("at", type_=UTCDateTime())
    )
    with engine.begin() as connection:
        connection.execute(statement, {"at": utcnow() - timedelta(hours=1)})
    engine.dispose()


def test_the_job_reads_jira_myself_offline_refreshing_the_grant(
    demo: ServedApp, tmp_path: Path
) -> None:
    with httpx2.Client(trust_env=False, follow_redirects=False, timeout=10.0) as browser:
        sign_in_over_http(browser, f"{demo.url}{AUTHORIZE}")
        user_id = browser.get(f"{demo.url}/api/me").json()["id"]
    expire_tokens(tmp_path / "kavach.db")

    finished = job(demo, tmp_path, user_id)

    assert finished.returncode == 0, finished.stderr
    assert "Jira knows you as Ada Lovelace" in finished.stdout
    assert "Traceback" not in finished.stderr


def test_the_job_for_someone_who_never_signed_in_says_they_must_sign_in(
    demo: ServedApp, tmp_path: Path
) -> None:
    finished = job(demo, tmp_path, "0" * 32)

    assert finished.returncode == 3
    assert "must sign in again" in finished.stderr
    assert "Traceback" not in finished.stderr
