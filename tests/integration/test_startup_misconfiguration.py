"""The app's start-up answers a mistake with one message naming the fix.

PostgreSQL without its driver installed stops ``kavach_router()`` with the install line, and a
database server that never answers stops the lifespan after ``KAVACH_DATABASE_CONNECT_TIMEOUT``
instead of asyncpg's 60 seconds, in a sentence naming the database.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import ConfigurationError, DatabaseUnavailableError, kavach_router

from ..support.environment import clean_environment
from .conftest import PREFIX, SECRET, fake_provider

POSTGRES = "postgresql://kavach@127.0.0.1/kavach"


def test_postgresql_without_asyncpg_stops_the_router_with_the_install_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)

    with pytest.raises(ConfigurationError) as raised:
        kavach_router([fake_provider()], database_url=POSTGRES, secret=SECRET)

    assert raised.value.message == (
        "KAVACH_DATABASE_URL names a PostgreSQL database, and its driver asyncpg is not "
        'installed: pip install "kavach-fastapi[postgres]"'
    )
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_database_that_never_answers_stops_start_up_after_the_connect_timeout(
    silent_server: str,
) -> None:
    app = FastAPI()
    router = kavach_router(
        [fake_provider()],
        database_url=silent_server,
        secret=SECRET,
        database_connect_timeout=0.5,
    )
    app.include_router(router, prefix=PREFIX)

    with pytest.raises(DatabaseUnavailableError) as raised, TestClient(app):
        pass

    assert raised.value.message == (
        f"Cannot reach {silent_server}: no answer within 0.5 s "
        "(KAVACH_DATABASE_CONNECT_TIMEOUT). Check KAVACH_DATABASE_URL and that the database "
        "server is running and accepts connections from here."
    )


def test_the_connect_timeout_is_five_seconds_unless_set() -> None:
    router = kavach_router([fake_provider()], database_url="sqlite://", secret=SECRET)

    assert router.kavach.settings.database_connect_timeout == 5.0
    assert router.kavach.store.database.connect_timeout == 5.0


def failed_start(folder: Path, app_source: str, settings: dict[str, str]) -> str:
    """Run the real ``uvicorn main:app`` on ``app_source`` in ``folder`` with only ``settings``;
    it must fail without a traceback. Returns what it printed on stderr."""
    (folder / "main.py").write_text(app_source)
    ran = subprocess.run(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", "0"],
        cwd=folder,
        env=clean_environment(**settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode != 0
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran.stderr


APP_WITHOUT_CREDENTIALS = """
from fastapi import FastAPI
from kavach_fastapi import atlassian_provider, kavach_router

app = FastAPI()
app.include_router(kavach_router([atlassian_provider()]), prefix="/api/kavach")
"""


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({}, ["kavach: ATLASSIAN_CLIENT_ID and ATLASSIAN_CLIENT_SECRET not set."]),
        (
            {
                "ATLASSIAN_CLIENT_ID": "id",
                "ATLASSIAN_CLIENT_SECRET": "secret",
                "KAVACH_RATE_LIMIT": "many",
            },
            ["kavach: Invalid settings:", "  KAVACH_RATE_LIMIT: Input should be a valid integer"],
        ),
        (
            {
                "ATLASSIAN_CLIENT_ID": "id",
                "ATLASSIAN_CLIENT_SECRET": "secret",
                "KAVACH_DATABASE_URL": "postgresql://kavach:s3cr3tpw@db:notaport/kavach",
            },
            ["kavach: Invalid settings:", "  KAVACH_DATABASE_URL: Value error, must be a database"],
        ),
    ],
    ids=["no credentials", "an invalid setting", "a database URL that cannot be parsed"],
)
def test_uvicorn_serving_a_misconfigured_app_prints_only_the_message_naming_the_fix(
    tmp_path: Path, settings: dict[str, str], said: list[str]
) -> None:
    stderr = failed_start(tmp_path, APP_WITHOUT_CREDENTIALS, settings)

    lines = stderr.strip().splitlines()
    assert len(lines) == len(said), stderr
    for line, start in zip(lines, said, strict=True):
        assert line.startswith(start)
    assert "s3cr3tpw" not in stderr
    assert not (tmp_path / "kavach.db").exists()


APP_ON_A_SILENT_DATABASE = """
from fastapi import FastAPI
from kavach_fastapi import atlassian_provider, kavach_router

app = FastAPI()
app.include_router(kavach_router([atlassian_provider("id", "secret")]), prefix="/api/kavach")
"""


def test_uvicorn_starting_an_app_whose_database_never_answers_says_so_without_a_traceback(
    tmp_path: Path, silent_server: str
) -> None:
    settings = {
        "KAVACH_DATABASE_URL": silent_server,
        "KAVACH_SECRET": SECRET,
        "KAVACH_DATABASE_CONNECT_TIMEOUT": "0.5",
    }

    stderr = failed_start(tmp_path, APP_ON_A_SILENT_DATABASE, settings)

    said = [line for line in stderr.splitlines() if "kavach:" in line]
    assert len(said) == 1, stderr
    assert f"kavach: Cannot reach {silent_server}: no answer within 0.5 s" in said[0]
    assert "Application startup failed" in stderr
