"""The ``kavach`` command, run in-process against real databases.

The commands that touch a database run on SQLite and on PostgreSQL, passed with
``--database-url``: the run's database (``db``), or a new one without tables (``empty_db``).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kavach_fastapi.cli import main
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.migrate import head_revision

from ..databases import TestDatabase, ago
from .conftest import emulated_app
from .conftest import sign_in_at_emulator as sign_in

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


def test_db_upgrade_creates_the_schema_and_is_idempotent(empty_db: TestDatabase) -> None:
    url = empty_db.url

    first_status, first = run("db", "upgrade", "--database-url", url)
    second_status, second = run("db", "upgrade", "--database-url", url)

    assert first_status == second_status == 0
    assert f"to {head_revision()}" in first
    assert "Already at the newest revision" in second
    assert empty_db.count("kavach_users") == 0


def test_db_current_exits_1_until_the_schema_is_upgraded(empty_db: TestDatabase) -> None:
    url = empty_db.url

    behind, text = run("db", "current", "--database-url", url)
    run("db", "upgrade", "--database-url", url)
    current, _ = run("db", "current", "--database-url", url)

    assert behind == 1
    assert "kavach db upgrade" in text
    assert current == 0


def sign_in_several_times(db: TestDatabase, emu: AtlassianEmulator, times: int) -> None:
    """Leave ``times`` sessions in ``db``: sign in through the emulator, forget the cookie, again."""
    with TestClient(emulated_app(db, emu), follow_redirects=False) as client:
        for _ in range(times):
            sign_in(client)
            client.cookies.clear()


def test_sessions_purge_deletes_only_expired_and_idle_sessions(
    db: TestDatabase, emu: AtlassianEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in_several_times(db, emu, 3)
    assert db.count("kavach_sessions") == 3
    hashes = [row[0] for row in db.rows("SELECT token_hash FROM kavach_sessions")]
    db.execute(
        "UPDATE kavach_sessions SET expires_at = :at WHERE token_hash = :hash",
        at=ago(minutes=1),
        hash=hashes[0],
    )
    db.execute(
        "UPDATE kavach_sessions SET last_active_at = :at WHERE token_hash = :hash",
        at=ago(days=2),
        hash=hashes[1],
    )
    monkeypatch.setenv("KAVACH_SECRET", "gu8ObbkkGhFl3m9CNHmpsSYWIz5lFqpGGUu5eryE98Q")

    status, text = run("sessions", "purge", "--database-url", db.url)

    assert status == 0
    assert "Deleted 2 expired sessions" in text
    assert [row[0] for row in db.rows("SELECT token_hash FROM kavach_sessions")] == [hashes[2]]


def test_sessions_purge_reports_progress_in_batches(
    db: TestDatabase, emu: AtlassianEmulator
) -> None:
    sign_in_several_times(db, emu, 5)
    db.execute("UPDATE kavach_sessions SET expires_at = :at", at=ago(minutes=1))

    status, text = run("sessions", "purge", "--database-url", db.url, "--batch", "2")

    assert status == 0
    assert text.count("deleted") >= 3
    assert db.count("kavach_sessions") == 0


def test_sessions_purge_deletes_feed_entries_older_than_an_hour_but_never_the_newest(
    db: TestDatabase, emu: AtlassianEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(emulated_app(db, emu), follow_redirects=False) as client:
        for _ in range(4):
            sign_in(client)  # each sign-in in this browser ends its session before
    assert db.count("kavach_session_changes") == 3
    db.execute("UPDATE kavach_session_changes SET changed_at = :at", at=ago(hours=2))
    monkeypatch.setenv("KAVACH_SECRET", "gu8ObbkkGhFl3m9CNHmpsSYWIz5lFqpGGUu5eryE98Q")

    status, text = run("sessions", "purge", "--database-url", db.url)

    assert status == 0
    assert "2 old session change feed entries" in text
    assert db.count("kavach_session_changes") == 1  # ids must keep growing after a purge


def test_keys_rotate_reencrypts_tokens_with_the_newest_key(
    db: TestDatabase, emu: AtlassianEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(emulated_app(db, emu, secret=KEY_A), follow_redirects=False) as client:
        sign_in(client)
    before = db.scalar("SELECT access_token FROM kavach_accounts")
    monkeypatch.setenv("KAVACH_SECRET", f"{KEY_B},{KEY_A}")

    status, text = run("keys", "rotate", "--database-url", db.url)

    after = db.scalar("SELECT access_token FROM kavach_accounts")
    assert status == 0
    assert "tokens of 1 accounts" in text
    assert "1/1 accounts checked" in text
    assert after != before
    assert after.split(".")[1] != before.split(".")[1]
    again_status, again = run("keys", "rotate", "--database-url", db.url)
    assert again_status == 0
    assert "tokens of 0 accounts" in again


def test_check_prints_the_callback_url_and_what_is_missing(empty_db: TestDatabase) -> None:
    status, text = run(
        "check",
        "--database-url",
        empty_db.url,
        "--base-url",
        "https://app.example.com/api/kavach",
    )

    assert status == 1
    assert "https://app.example.com/api/kavach/auth/oauth/callback/atlassian" in text
    assert "ATLASSIAN_CLIENT_ID is not set" in text
    assert "ATLASSIAN_CLIENT_SECRET is not set" in text
    if empty_db.path is None:
        # A shared database: every instance must hold the same key, so it must be set, and
        # its schema is upgraded on purpose, never by the app as it starts.
        assert "KAVACH_SECRET is not set; it is required for this database" in text
        assert "kavach db upgrade" in text
    else:
        # Local SQLite: the app would keep a key file and make its tables as it starts;
        # checking must not create either.
        assert "a key file is kept beside the SQLite file" in text
        assert "the app creates kavach's tables as it starts" in text
        assert not empty_db.path.with_name("kavach.db.secret").exists()


def test_check_passes_when_everything_is_set(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", "id")
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", "secret")
    monkeypatch.setenv("KAVACH_SECRET", KEY_A)
    monkeypatch.setenv("KAVACH_BASE_URL", "https://app.example.com/auth")
    run("db", "upgrade", "--database-url", db.url)

    status, text = run("check", "--database-url", db.url)

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


def test_kavach_emulator_help_names_the_command_it_was_run_as(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["emulator", "--help"])

    shown = capsys.readouterr().out
    assert shown.startswith("usage: kavach emulator ")
    assert "  kavach emulator --port 9100 --auto-consent" in shown
    assert "python -m kavach_fastapi.emulator" not in shown
