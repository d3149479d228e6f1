"""A person's mistake with the ``kavach`` command: one line naming the fix, nothing changed.

Each test runs the real console script in a folder of its own, as a shell or cron would.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import kavach_fastapi

from ..databases import TestDatabase
from .console import Ran, run_kavach

INSTALL_POSTGRES = 'pip install "kavach-fastapi[postgres]"'
KEY = "gu8ObbkkGhFl3m9CNHmpsSYWIz5lFqpGGUu5eryE98Q"
EVERY_DATABASE_COMMAND = [
    ["check"],
    ["db", "upgrade"],
    ["db", "current"],
    ["sessions", "purge"],
    ["keys", "rotate"],
]
CHANGING_COMMANDS = [["sessions", "purge"], ["keys", "rotate"]]


def one_line(ran: Ran) -> str:
    """The one line a failed command printed on stderr (and no traceback)."""
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert "Traceback" not in ran.err + ran.out
    return lines[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty working folder."""
    where = tmp_path / "work"
    where.mkdir()
    return where


def test_kavach_version_prints_the_package_version(folder: Path) -> None:
    ran = run_kavach("--version", cwd=folder)

    assert ran.status == 0
    assert ran.out.strip() == f"kavach-fastapi {kavach_fastapi.__version__}"


def test_check_in_an_empty_folder_says_the_app_makes_the_tables_and_creates_nothing(
    folder: Path,
) -> None:
    ran = run_kavach("check", cwd=folder)

    assert ran.status == 1  # the Atlassian client id and secret are missing
    assert "Schema: the app creates kavach's tables as it starts" in ran.out
    assert "kavach db upgrade" not in ran.out
    assert list(folder.iterdir()) == []


def test_check_without_auto_migrate_names_the_file_and_the_upgrade(folder: Path) -> None:
    ran = run_kavach("check", cwd=folder, settings={"KAVACH_AUTO_MIGRATE": "false"})

    assert ran.status == 1
    assert f"(the file {folder / 'kavach.db'}) has no kavach tables" in ran.out
    assert "run `kavach db upgrade`" in ran.out
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("argv", CHANGING_COMMANDS, ids=" ".join)
def test_a_command_in_an_empty_folder_names_the_fix_and_creates_nothing(
    folder: Path, argv: list[str]
) -> None:
    ran = run_kavach(*argv, cwd=folder)

    line = one_line(ran)
    assert ran.status == 2
    assert line.startswith("kavach: ")
    assert f"(the file {folder / 'kavach.db'}) has no kavach tables" in line
    assert "run `kavach db upgrade`" in line
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("argv", CHANGING_COMMANDS, ids=" ".join)
def test_a_command_on_a_database_without_tables_changes_nothing(
    folder: Path, empty_db: TestDatabase, argv: list[str]
) -> None:
    if empty_db.path is not None:
        with sqlite3.connect(empty_db.path) as connection:  # someone else's database
            connection.execute("CREATE TABLE notes (body TEXT)")
    before = sorted(p.name for p in empty_db.path.parent.iterdir()) if empty_db.path else []

    ran = run_kavach(*argv, "--database-url", empty_db.url, cwd=folder)

    assert ran.status == 2
    assert "run `kavach db upgrade`" in one_line(ran)
    assert "Nothing was changed." in one_line(ran)
    if empty_db.path is not None:
        assert sorted(p.name for p in empty_db.path.parent.iterdir()) == before
        assert not empty_db.path.with_name("kavach.db.secret").exists()
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("argv", EVERY_DATABASE_COMMAND, ids=" ".join)
def test_postgresql_without_asyncpg_is_one_line_naming_the_install(
    folder: Path, argv: list[str]
) -> None:
    settings = {"KAVACH_DATABASE_URL": "postgresql://kavach@127.0.0.1/kavach", "KAVACH_SECRET": KEY}

    ran = run_kavach(*argv, cwd=folder, settings=settings, missing=["asyncpg"])

    assert ran.status != 0
    assert "Traceback" not in ran.out + ran.err
    if argv == ["check"]:  # check lists every problem on its own line
        assert f"driver asyncpg is not installed: {INSTALL_POSTGRES}" in ran.out
    else:
        assert one_line(ran).endswith(f"driver asyncpg is not installed: {INSTALL_POSTGRES}")


@pytest.mark.parametrize("argv", [["db", "current"], ["db", "upgrade"], ["sessions", "purge"]])
def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(
    folder: Path, silent_server: str, argv: list[str]
) -> None:
    settings = {"KAVACH_DATABASE_CONNECT_TIMEOUT": "0.5", "KAVACH_SECRET": KEY}

    ran = run_kavach(*argv, "--database-url", silent_server, cwd=folder, settings=settings)

    assert ran.status == 2
    assert one_line(ran) == (
        f"kavach: Cannot reach {silent_server}: no answer within 0.5 s "
        "(KAVACH_DATABASE_CONNECT_TIMEOUT). Check KAVACH_DATABASE_URL and that the database "
        "server is running and accepts connections from here."
    )


def test_a_refused_connection_is_one_line_naming_the_database(folder: Path) -> None:
    url = "postgresql://kavach@127.0.0.1:1/kavach"

    ran = run_kavach("db", "current", "--database-url", url, cwd=folder)

    assert ran.status == 2
    assert one_line(ran).startswith(f"kavach: Cannot reach {url}: ")


def test_a_relative_sqlite_path_is_shown_as_the_absolute_file_it_means(folder: Path) -> None:
    settings = {"KAVACH_DATABASE_URL": "sqlite:///data/kavach.db"}
    meant = folder / "data" / "kavach.db"

    upgraded = run_kavach("db", "upgrade", cwd=folder, settings=settings)
    current = run_kavach("db", "current", cwd=folder, settings=settings)
    purged = run_kavach("sessions", "purge", cwd=folder, settings=settings)

    for ran in (upgraded, current, purged):
        assert ran.status == 0, ran.err
        assert f"sqlite:///data/kavach.db (the file {meant})" in ran.out
    assert meant.exists()


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_one_line_naming_the_fix(
    folder: Path, postgres_url: str
) -> None:
    missing = make_url(postgres_url).set(database="kavach_no_such_database").render_as_string()

    ran = run_kavach("sessions", "purge", "--database-url", missing, cwd=folder)

    assert ran.status == 2
    assert one_line(ran) == (
        f'kavach: The server refused {missing}: database "kavach_no_such_database" does not '
        "exist. Check the user name, password and database name in KAVACH_DATABASE_URL (the "
        "database must exist: create it, then run `kavach db upgrade`)."
    )


@pytest.mark.parametrize("argv", EVERY_DATABASE_COMMAND, ids=" ".join)
@pytest.mark.parametrize(
    "database_url",
    ["not a url", "postgresql://kavach:s3cr3tpw@db:notaport/kavach"],
    ids=["not-a-url", "port-not-a-number"],
)
def test_a_database_url_that_cannot_be_parsed_is_one_message_without_the_password(
    folder: Path, argv: list[str], database_url: str
) -> None:
    # No KAVACH_SECRET: the key file beside a SQLite database would be looked for first.
    ran = run_kavach(*argv, cwd=folder, settings={"KAVACH_DATABASE_URL": database_url})

    assert "Traceback" not in ran.out + ran.err
    assert "s3cr3tpw" not in ran.out + ran.err
    if argv == ["check"]:  # check lists every problem on its own line
        assert ran.status != 0
        assert "KAVACH_DATABASE_URL: Value error, must be a database URL" in ran.out
    else:
        assert ran.status == 2
        assert ran.err.startswith("kavach: Invalid settings:\n  KAVACH_DATABASE_URL: ")
    assert list(folder.iterdir()) == []


def test_an_env_file_that_is_not_utf8_is_one_line_naming_the_file(folder: Path) -> None:
    (folder / ".env").write_bytes(b"KAVACH_SECRET=\xff\xfe\n")

    ran = run_kavach("db", "current", cwd=folder)

    assert ran.status == 2
    assert one_line(ran) == (
        f"kavach: The settings file {folder / '.env'} is not UTF-8 text: save it as UTF-8 (or "
        "remove it and set the variables in the environment)."
    )
