"""The secret: ``KAVACH_SECRET`` when set, else a key file that only a local SQLite may have."""

from __future__ import annotations

import logging
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kavach_fastapi.database_urls import is_sqlite, sqlite_file
from kavach_fastapi.errors import ConfigurationError
from kavach_fastapi.keyfile import resolve_secret_keys
from kavach_fastapi.settings import KavachSettings, load_settings

KEY_A = "oeoR8nwve7TBPRvCGHqGH4Y7vGxbA7Zf"
KEY_B = "DZv4BuU3eWw2wu_2kNYui8_uhubd7pUO"


def settings_for(database_url: str) -> KavachSettings:
    return load_settings(KavachSettings, database_url=database_url)


def key_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "kavach_fastapi"
        and record.levelno == logging.WARNING
        and "KAVACH_SECRET" in record.getMessage()
    ]


def resolve_with_short_traceback(settings: KavachSettings) -> tuple[str, ...]:
    try:
        return resolve_secret_keys(settings)
    except RecursionError:
        # Re-raised without its thousand frames, which pytest would take long to render.
        raise AssertionError("resolve_secret_keys retried until the stack ran out") from None


def test_configured_secret_is_used_as_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KAVACH_SECRET", f"{KEY_A},{KEY_B}")
    database = tmp_path / "app.db"
    keys = resolve_secret_keys(settings_for(f"sqlite:///{database}"))
    assert keys == (KEY_A, KEY_B)
    assert not (tmp_path / "app.db.secret").exists()
    assert key_warnings(caplog) == []


def test_configured_secret_serves_any_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_SECRET", KEY_A)
    assert resolve_secret_keys(settings_for("postgresql://db.example/kavach")) == (KEY_A,)


def test_local_sqlite_gets_an_owner_only_key_file_beside_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kavach_fastapi")
    database = tmp_path / "data" / "app.db"
    (key,) = resolve_secret_keys(settings_for(f"sqlite:///{database}"))
    key_file = tmp_path / "data" / "app.db.secret"
    assert key_file.read_text().strip() == key
    assert len(key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    (warning,) = key_warnings(caplog)
    assert str(key_file) in warning.getMessage()
    assert key not in warning.getMessage()


def test_key_file_is_reused_without_a_second_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kavach_fastapi")
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    first = resolve_secret_keys(settings)
    second = resolve_secret_keys(settings)
    assert first == second
    assert len(key_warnings(caplog)) == 1


def test_key_file_creation_leaves_no_temporary_files(tmp_path: Path) -> None:
    resolve_secret_keys(settings_for(f"sqlite:///{tmp_path / 'app.db'}"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db.secret"]


def test_existing_key_file_is_read_with_surrounding_whitespace_stripped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "app.db.secret").write_text(f"  {KEY_B}\n\n")
    assert resolve_secret_keys(settings_for(f"sqlite:///{tmp_path / 'app.db'}")) == (KEY_B,)
    assert key_warnings(caplog) == []


def test_relative_sqlite_path_puts_the_key_file_in_the_working_directory(
    tmp_path: Path,
) -> None:
    # The autouse fixture made tmp_path the working directory.
    (key,) = resolve_secret_keys(settings_for("sqlite:///kavach.db"))
    assert (tmp_path / "kavach.db.secret").read_text().strip() == key


def test_damaged_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "app.db.secret").write_text("too-short\n")
    with pytest.raises(ConfigurationError, match="damaged") as caught:
        resolve_secret_keys(settings_for(f"sqlite:///{tmp_path / 'app.db'}"))
    assert "KAVACH_SECRET" in caught.value.message
    assert "too-short" not in caught.value.message


def test_empty_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "app.db.secret").write_text("")
    with pytest.raises(ConfigurationError, match="damaged"):
        resolve_secret_keys(settings_for(f"sqlite:///{tmp_path / 'app.db'}"))


def test_key_file_path_taken_by_a_directory_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "app.db.secret").mkdir()
    with pytest.raises(ConfigurationError, match="KAVACH_SECRET"):
        resolve_secret_keys(settings_for(f"sqlite:///{tmp_path / 'app.db'}"))


def test_database_directory_that_is_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    settings = settings_for(f"sqlite:///{tmp_path / 'not-a-directory' / 'app.db'}")
    with pytest.raises(ConfigurationError, match="KAVACH_SECRET"):
        resolve_with_short_traceback(settings)


def test_binary_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "app.db.secret").write_bytes(b"\xff\xfe" * 40)
    with pytest.raises(ConfigurationError, match="damaged"):
        resolve_secret_keys(settings_for(f"sqlite:///{tmp_path / 'app.db'}"))


@pytest.mark.parametrize(
    "database_url",
    ["postgresql://db.example/kavach", "postgresql+asyncpg://u:p@db:5432/kavach"],
)
def test_shared_database_without_secret_is_a_configuration_error(
    database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="KAVACH_SECRET is required"):
        resolve_secret_keys(settings_for(database_url))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "database_url", ["sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"]
)
def test_in_memory_sqlite_gets_a_temporary_key_with_a_warning(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kavach_fastapi")
    settings = settings_for(database_url)
    (first,) = resolve_secret_keys(settings)
    (second,) = resolve_secret_keys(settings)
    assert len(first) >= 32
    assert first != second
    assert len(key_warnings(caplog)) == 2
    assert "temporary" in key_warnings(caplog)[0].getMessage()
    assert list(tmp_path.iterdir()) == []


def test_concurrent_first_starts_agree_on_one_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kavach_fastapi")
    workers = 8
    settings = settings_for(f"sqlite:///{tmp_path / 'fresh' / 'app.db'}")
    start = threading.Barrier(workers)

    def resolve() -> tuple[str, ...]:
        start.wait()
        return resolve_secret_keys(settings)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [future.result() for future in [pool.submit(resolve) for _ in range(workers)]]

    key_file = tmp_path / "fresh" / "app.db.secret"
    assert set(results) == {(key_file.read_text().strip(),)}
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["app.db.secret"]
    assert len(key_warnings(caplog)) == 1


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        ("sqlite:///kavach.db", Path("kavach.db")),
        ("sqlite:////var/lib/app/app.db", Path("/var/lib/app/app.db")),
        ("sqlite+aiosqlite:///data/app.db", Path("data/app.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file::memory:?cache=shared", None),
        ("postgresql://db/kavach", None),
    ],
)
def test_sqlite_file_names_only_file_databases(database_url: str, expected: Path | None) -> None:
    assert sqlite_file(database_url) == expected


def test_is_sqlite_recognises_every_sqlite_driver() -> None:
    assert is_sqlite("sqlite://")
    assert is_sqlite("sqlite+aiosqlite:///app.db")
    assert not is_sqlite("postgresql+asyncpg://db/kavach")
