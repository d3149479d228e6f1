"""``kavach grants status`` and ``kavach grants refresh-idle`` on grants of every state.

Five people sign in through the app against one emulator served on a loopback socket (the
command reaches it as ``ATLASSIAN_AUTH_URL``, as it would the real Atlassian): one stays
healthy, one's grant is revoked at Atlassian and found dead by the app, one has been idle for
40 days, one for 100 days (past Atlassian's 90-day limit), and one's grant reaches its 365 days
in a fortnight. Only their times are aged in the database; every grant is a real one. On SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest

from kavach_fastapi.cli import main
from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser, Fault
from kavach_fastapi.tables import utcnow

from ..databases import TestDatabase, ago
from .conftest import SECRET
from .token_harness import (
    accounts,
    build_harness,
    expire_access_token,
    running,
    sign_in,
    update_account,
)

PEOPLE = ("healthy", "idle", "lapsed", "expiring", "revoked")


def person(name: str) -> EmulatedUser:
    return EmulatedUser(account_id=f"712020:{name}", name=name.title(), email=f"{name}@example.com")


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


@dataclass(frozen=True)
class Seeded:
    emu: AtlassianEmulator
    account_ids: dict[str, str]
    """The account row of each person, by name."""


@pytest.fixture
def emulator() -> Iterator[tuple[AtlassianEmulator, str]]:
    emu = AtlassianEmulator(users=[person(name) for name in PEOPLE])
    with emu.serve() as url:
        yield emu, url


@pytest.fixture(autouse=True)
def command_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator: tuple[AtlassianEmulator, str]
) -> None:
    emu, url = emulator
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAVACH_SECRET", SECRET)
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", emu.default_client.client_id)
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", emu.default_client.client_secret)
    monkeypatch.setenv("ATLASSIAN_AUTH_URL", url)
    monkeypatch.setenv("ATLASSIAN_API_URL", url)
    monkeypatch.delenv("KAVACH_DATABASE_URL", raising=False)


@asynccontextmanager
async def seeded(
    db: TestDatabase, emulator: tuple[AtlassianEmulator, str]
) -> AsyncIterator[Seeded]:
    emu, url = emulator
    async with httpx2.AsyncHTTPTransport() as network:
        harness = build_harness(db, emu, served_at=(url, network))
        async with running(harness.app) as client:
            for name in PEOPLE:
                client.cookies.clear()
                await sign_in(client, emu, user=emu.user(f"712020:{name}"))
            ids = {
                row["provider_account_id"].removeprefix("712020:"): row["id"]
                for row in accounts(db)
            }
            # The last to sign in, so the client is theirs: their grant is revoked at
            # Atlassian, and the app finds it dead as any request would.
            emu.revoke_grant("712020:revoked")
            expire_access_token(db, ids["revoked"])
            refused = await client.get("/token")
            assert refused.status_code == 401, refused.text
        age(db, emu, ids["idle"], "712020:idle", unused=timedelta(days=40))
        age(db, emu, ids["lapsed"], "712020:lapsed", unused=timedelta(days=100))
        age(db, emu, ids["expiring"], "712020:expiring", granted=timedelta(days=351))
        yield Seeded(emu, ids)


def age(
    db: TestDatabase,
    emu: AtlassianEmulator,
    account_row: str,
    account_id: str,
    *,
    unused: timedelta | None = None,
    granted: timedelta | None = None,
) -> None:
    """Move a grant's times into the past, in the app's database and at Atlassian alike."""
    now = utcnow()
    with emu.state.lock:
        grant_ids = {g.id for g in emu.state.grants.values() if g.account_id == account_id}
        for grant in emu.state.grants.values():
            if grant.id in grant_ids and granted is not None:
                grant.created_at = emu.clock.now() - granted
        for token in emu.state.refresh_tokens.values():
            if token.grant_id in grant_ids and unused is not None:
                token.issued_at = emu.clock.now() - unused
    if unused is not None:
        update_account(db, account_row, updated_at=now - unused)
    if granted is not None:
        update_account(db, account_row, granted_at=now - granted)


async def command(*argv: str) -> tuple[int, str]:
    """A ``kavach`` command, run as from a shell (its own event loop)."""
    return await asyncio.to_thread(run, *argv)


async def test_status_counts_grants_of_every_state(
    db: TestDatabase, emulator: tuple[AtlassianEmulator, str]
) -> None:
    async with seeded(db, emulator):
        status, text = await command("grants", "status", "--database-url", db.url, "--json")

    assert status == 0
    assert json.loads(text) == {
        "total": 5,
        "healthy": 1,
        "needs_consent": 2,
        "idle": 1,
        "expiring": 1,
        "idle_after_days": 30,
        "expiring_within_days": 30,
    }


async def test_status_thresholds_are_options(
    db: TestDatabase, emulator: tuple[AtlassianEmulator, str]
) -> None:
    async with seeded(db, emulator):
        _, text = await command(
            "grants", "status", "--database-url", db.url, "--json",
            "--older-than", "50d", "--expiring-within", "1w",
        )  # fmt: skip

    counts = json.loads(text)
    assert (counts["idle"], counts["expiring"], counts["healthy"]) == (0, 0, 3)
    assert (counts["idle_after_days"], counts["expiring_within_days"]) == (50, 7)


async def test_status_without_json_reads_as_a_summary(
    db: TestDatabase, emulator: tuple[AtlassianEmulator, str]
) -> None:
    async with seeded(db, emulator):
        status, text = await command("grants", "status", "--database-url", db.url)

    assert status == 0
    assert "Grants in" in text
    assert "need consent:   2" in text
    assert "idle:           1  (not refreshed for 30 days)" in text
    assert "kavach grants refresh-idle --older-than 30d" in text


async def test_refresh_idle_refreshes_the_idle_grants_once_and_is_idempotent(
    db: TestDatabase, emulator: tuple[AtlassianEmulator, str]
) -> None:
    async with seeded(db, emulator) as seeding:
        emu = seeding.emu
        before = {row["id"]: row for row in accounts(db)}
        refreshes = emu.calls["refresh"]

        status, text = await command(
            "grants", "refresh-idle", "--older-than", "30d", "--database-url", db.url, "--json"
        )
        after_first = emu.calls["refresh"]
        again_status, again = await command(
            "grants", "refresh-idle", "--older-than", "30d", "--database-url", db.url, "--json"
        )
        after_second = emu.calls["refresh"]
        _, counts = await command("grants", "status", "--database-url", db.url, "--json")

    assert status == again_status == 0
    # The idle grant is refreshed; the lapsed one is tried, and Atlassian says it is gone.
    assert json.loads(text) == {
        "idle": 2,
        "refreshed": 1,
        "already_fresh": 0,
        "needs_consent": 1,
        "failed": 0,
        "older_than_days": 30,
    }
    assert after_first - refreshes == 2, "one call per idle grant"
    assert json.loads(again)["idle"] == 0
    assert after_second == after_first, "a second run refreshes nothing"
    rows = {row["id"]: row for row in accounts(db)}
    ids = seeding.account_ids
    assert rows[ids["idle"]]["token_version"] == before[ids["idle"]]["token_version"] + 1
    assert rows[ids["idle"]]["updated_at"] > ago(minutes=5)
    assert rows[ids["lapsed"]]["needs_reauth"]
    for name in ("healthy", "revoked", "expiring"):
        assert rows[ids[name]] == before[ids[name]], f"{name} is left alone"
    assert json.loads(counts) | {"idle_after_days": 0, "expiring_within_days": 0} == {
        "total": 5,
        "healthy": 2,
        "needs_consent": 2,
        "idle": 0,
        "expiring": 1,
        "idle_after_days": 0,
        "expiring_within_days": 0,
    }


async def test_refresh_idle_marks_a_grant_atlassian_ended_as_needing_consent(
    db: TestDatabase, emulator: tuple[AtlassianEmulator, str]
) -> None:
    async with seeded(db, emulator) as seeding:
        seeding.emu.revoke_grant("712020:idle")

        status, text = await command("grants", "refresh-idle", "--database-url", db.url, "--json")

    assert status == 0
    outcome = json.loads(text)
    assert (outcome["refreshed"], outcome["needs_consent"]) == (0, 2)
    assert {row["id"]: row for row in accounts(db)}[seeding.account_ids["idle"]]["needs_reauth"]


async def test_refresh_idle_counts_a_refused_refresh_as_failed_and_goes_on_with_the_others(
    db: TestDatabase, emulator: tuple[AtlassianEmulator, str]
) -> None:
    async with seeded(db, emulator) as seeding:
        refreshes = seeding.emu.calls["refresh"]
        seeding.emu.faults.add("refresh", Fault("status", status=400, times=1))

        status, text = await command("grants", "refresh-idle", "--database-url", db.url, "--json")

        tried = seeding.emu.calls["refresh"] - refreshes

    outcome = json.loads(text)
    assert status == 1  # someone must be looked at again
    assert outcome["failed"] == 1
    assert outcome["refreshed"] + outcome["needs_consent"] == 1
    assert tried == 2, "the refused refresh did not stop the run"


async def test_refresh_idle_prints_progress_lines_when_not_on_a_terminal(
    db: TestDatabase,
    emulator: tuple[AtlassianEmulator, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with seeded(db, emulator):
        status, text = await command("grants", "refresh-idle", "--database-url", db.url)

    assert status == 0
    assert "2 grants idle for 30 days or more: 1 refreshed" in text
    progress = capsys.readouterr().err
    assert "Refreshing idle grants: 2/2\n" in progress
    assert "\r" not in progress


async def test_refresh_idle_without_atlassian_credentials_says_which_are_missing(
    db: TestDatabase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ATLASSIAN_CLIENT_ID")

    status, _ = await command("grants", "refresh-idle", "--database-url", db.url)

    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith("kavach: ")
    assert "ATLASSIAN_CLIENT_ID" in error
    assert "Traceback" not in error


async def test_status_on_a_database_without_the_schema_says_to_upgrade(
    empty_db: TestDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = await command("grants", "status", "--database-url", empty_db.url)

    assert status == 2
    assert "run `kavach db upgrade`" in capsys.readouterr().err


async def test_a_malformed_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        await command("grants", "refresh-idle", "--older-than", "a month")

    assert exited.value.code == 2
    assert "write a number of days such as 30d" in capsys.readouterr().err
