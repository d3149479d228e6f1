"""The ``kavach`` command, run in-process against real databases."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kavach_fastapi.cli import main
from kavach_fastapi.migrate import head_revision

from .conftest import build_app, count_rows, execute, sign_in
from .fake_atlassian import FakeAtlassian

KEY_A = "key-a-0123456789-0123456789-0123456789"
KEY_B = "key-b-0123456789-0123456789-0123456789"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "ATLASSIAN_CLIENT_ID",
        "ATLASSIAN_CLIENT_SECRET",
        "KAVACH_SECRET",
        "KAVACH_BASE_URL",
        "KAVACH_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_db_upgrade_creates_the_schema_and_is_idempotent(database: Path) -> None:
    url = f"sqlite:///{database}"

    first_status, first = run("db", "upgrade", "--database-url", url)
    second_status, second = run("db", "upgrade", "--database-url", url)

    assert first_status == second_status == 0
    assert f"to {head_revision()}" in first
    assert "Already at the newest revision" in second
    assert count_rows(database, "kavach_users") == 0


def test_db_current_exits_1_until_the_schema_is_upgraded(database: Path) -> None:
    url = f"sqlite:///{database}"

    behind, text = run("db", "current", "--database-url", url)
    run("db", "upgrade", "--database-url", url)
    current, _ = run("db", "current", "--database-url", url)

    assert behind == 1
    assert "kavach db upgrade" in text
    assert current == 0


def test_sessions_purge_deletes_only_expired_and_idle_sessions(
    database: Path, fake: FakeAtlassian, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(database, fake)
    with TestClient(app, follow_redirects=False) as client:
        for _ in range(3):
            sign_in(client)
            client.cookies.clear()
    assert count_rows(database, "kavach_sessions") == 3
    with sqlite3.connect(database) as connection:
        hashes = [row[0] for row in connection.execute("SELECT token_hash FROM kavach_sessions")]
    execute(
        database,
        "UPDATE kavach_sessions SET expires_at = datetime('now', '-1 minute') WHERE token_hash = ?",
        hashes[0],
    )
    execute(
        database,
        "UPDATE kavach_sessions SET last_active_at = datetime('now', '-2 days') "
        "WHERE token_hash = ?",
        hashes[1],
    )
    monkeypatch.setenv("KAVACH_SECRET", "s" * 40)

    status, text = run("sessions", "purge", "--database-url", f"sqlite:///{database}")

    assert status == 0
    assert "Deleted 2 expired sessions" in text
    assert count_rows(database, "kavach_sessions") == 1


def test_sessions_purge_reports_progress_in_batches(database: Path, fake: FakeAtlassian) -> None:
    app = build_app(database, fake)
    with TestClient(app, follow_redirects=False) as client:
        for _ in range(5):
            sign_in(client)
            client.cookies.clear()
    execute(database, "UPDATE kavach_sessions SET expires_at = datetime('now', '-1 minute')")

    status, text = run(
        "sessions", "purge", "--database-url", f"sqlite:///{database}", "--batch", "2"
    )

    assert status == 0
    assert text.count("deleted") >= 3
    assert count_rows(database, "kavach_sessions") == 0


def test_keys_rotate_reencrypts_tokens_with_the_newest_key(
    database: Path, fake: FakeAtlassian, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(build_app(database, fake, secret=KEY_A), follow_redirects=False) as client:
        sign_in(client)
    with sqlite3.connect(database) as connection:
        (before,) = connection.execute("SELECT access_token FROM kavach_accounts").fetchone()
    monkeypatch.setenv("KAVACH_SECRET", f"{KEY_B},{KEY_A}")

    status, text = run("keys", "rotate", "--database-url", f"sqlite:///{database}")

    with sqlite3.connect(database) as connection:
        (after,) = connection.execute("SELECT access_token FROM kavach_accounts").fetchone()
    assert status == 0
    assert "tokens of 1 accounts" in text
    assert "1/1 accounts checked" in text
    assert after != before
    assert after.split(".")[1] != before.split(".")[1]
    again_status, again = run("keys", "rotate", "--database-url", f"sqlite:///{database}")
    assert again_status == 0
    assert "tokens of 0 accounts" in again


def test_check_prints_the_callback_url_and_what_is_missing(database: Path) -> None:
    status, text = run(
        "check",
        "--database-url",
        f"sqlite:///{database}",
        "--base-url",
        "https://app.example.com/api/kavach",
    )

    assert status == 1
    assert "https://app.example.com/api/kavach/auth/oauth/callback/atlassian" in text
    assert "ATLASSIAN_CLIENT_ID is not set" in text
    assert "ATLASSIAN_CLIENT_SECRET is not set" in text
    assert "kavach db upgrade" in text
    assert not database.with_name("kavach.db.secret").exists()


def test_check_passes_when_everything_is_set(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", "id")
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", "secret")
    monkeypatch.setenv("KAVACH_SECRET", KEY_A)
    monkeypatch.setenv("KAVACH_BASE_URL", "https://app.example.com/auth")
    run("db", "upgrade", "--database-url", f"sqlite:///{database}")

    status, text = run("check", "--database-url", f"sqlite:///{database}")

    assert status == 0
    assert "https://app.example.com/auth/auth/oauth/callback/atlassian" in text
    assert "Everything needed is set" in text


def test_check_requires_kavach_secret_for_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    status, text = run("check", "--database-url", "postgresql://nobody@127.0.0.1:1/none")

    assert status == 1
    assert "KAVACH_SECRET is not set; it is required" in text
    assert "Cannot reach postgresql://nobody@127.0.0.1:1/none" in text


def test_invalid_settings_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "lots")

    status = main(["db", "current"], out=io.StringIO())

    assert status == 2
    assert "KAVACH_RATE_LIMIT" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["db", "upgrade", "--help"],
        ["sessions", "purge", "--help"],
        ["keys", "rotate", "--help"],
        ["check", "--help"],
        ["emulator", "--help"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 0
    assert "usage:" in capsys.readouterr().out
