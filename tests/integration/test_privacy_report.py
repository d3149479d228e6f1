"""Atlassian's personal-data reporting against the emulator, on SQLite and on PostgreSQL.

People sign in through the emulator's consent (so the accounts, grants and profiles are what a
real sign-in stores); `report_personal_data()` then reports them to the emulator's
``/app/report-accounts/``, which answers as the test arranged (``emu.privacy.close`` and
``mark_updated``) and refuses a call of more than 90 accounts.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from kavach_fastapi import (
    AtlassianToken,
    ClosedAccount,
    ConfigurationError,
    ErrorCode,
    NoUsableGrantError,
    PersonalDataReport,
    ProviderUnavailableError,
    ReportProgress,
    kavach_router,
    report_personal_data,
)
from kavach_fastapi.cli import main
from kavach_fastapi.emulator import AtlassianEmulator, Fault
from kavach_fastapi.privacy.results import REPORT_PATH
from kavach_fastapi.privacy.schedule import CLAIM_LEASE
from kavach_fastapi.tables import utcnow
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in

from ..databases import TestDatabase, ago
from ..support.people import people
from ..support.transports import UndecodableAnswers
from .conftest import SECRET

SESSION = "/api/kavach/auth/session"


def build_app(db: TestDatabase, emu: AtlassianEmulator) -> FastAPI:
    app = FastAPI()
    app.include_router(
        kavach_router(
            [emulator_provider(emu)],
            database_url=db.url,
            secret=SECRET,
            http_transport=emulator_transport(emu),
            rate_limit=0,
            session_cache_seconds=0,
        ),
        prefix="/api/kavach",
    )

    @app.get("/token")
    async def token(access_token: AtlassianToken) -> dict[str, bool]:
        return {"ok": bool(access_token)}

    return app


@contextmanager
def signed_in(db: TestDatabase, emu: AtlassianEmulator) -> Iterator[dict[str, TestClient]]:
    """Every emulated person signed in, each in a browser of their own, the app running."""
    app = build_app(db, emu)
    with TestClient(app, follow_redirects=False) as first:
        browsers: dict[str, TestClient] = {}
        for user in emu.users:
            browser = TestClient(app, base_url=str(first.base_url), follow_redirects=False)
            browser.portal = first.portal
            sign_in(browser, emu, user=user)
            browsers[user.account_id] = browser
        try:
            yield browsers
        finally:
            for browser in browsers.values():
                browser.close()


def report(db: TestDatabase, emu: AtlassianEmulator, **options: Any) -> PersonalDataReport:
    options.setdefault("http_transport", emulator_transport(emu))
    return asyncio.run(
        report_personal_data(
            [emulator_provider(emu)], database_url=db.url, secret=SECRET, **options
        )
    )


def user_id_of(db: TestDatabase, account_id: str) -> str:
    return str(
        db.scalar(
            "SELECT user_id FROM kavach_accounts WHERE provider_account_id = :id", id=account_id
        )
    )


def test_a_report_over_200_accounts_goes_in_calls_of_at_most_90(db: TestDatabase) -> None:
    emu = AtlassianEmulator(users=people(200))
    seen: list[ReportProgress] = []
    with signed_in(db, emu):
        result = report(db, emu, on_progress=seen.append)

    # The emulator answers 400 to a call of more than 90: three answered calls carried 200.
    assert emu.calls["report_accounts"] == 3
    assert (result.due, result.reported, result.calls) == (200, 200, 3)
    assert [progress.reported for progress in seen] == [90, 180, 200]
    assert result.complete
    assert result.cycle_period == "P7D"
    assert db.scalar("SELECT COUNT(*) FROM kavach_accounts WHERE privacy_reported_at IS NULL") == 0


def test_a_second_run_within_the_cycle_reports_nothing(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    with signed_in(db, emu):
        first = report(db, emu)
        second = report(db, emu)

    assert first.reported == 2
    assert (second.due, second.reported, second.calls) == (0, 0, 0)
    assert emu.calls["report_accounts"] == 1


def test_an_account_is_due_again_once_its_cycle_has_passed(db: TestDatabase) -> None:
    emu = AtlassianEmulator(personal_data_cycle_period="PT1S")
    with signed_in(db, emu):
        report(db, emu)
        db.execute("UPDATE kavach_accounts SET privacy_reported_at = :at", at=ago(days=1))
        again = report(db, emu)

    assert again.reported == 2
    assert again.cycle_period == "PT1S"


def a_day_passes(db: TestDatabase, *, earlier_by: timedelta = timedelta(0)) -> None:
    """Move every stored report a day back: the next run is a day later (less ``earlier_by``)."""
    for row in db.records("kavach_accounts"):
        if row["privacy_reported_at"] is not None:
            db.execute(
                "UPDATE kavach_accounts SET privacy_reported_at = :at WHERE id = :id",
                at=row["privacy_reported_at"] - timedelta(days=1) + earlier_by,
                id=row["id"],
            )


def test_a_daily_report_run_reports_each_account_once_every_seven_days(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    reported_on: list[int] = []
    with signed_in(db, emu):
        for day in range(22):
            if day:
                # Cron at a fixed time of day: a run can start seconds before the last one's time.
                a_day_passes(db, earlier_by=timedelta(seconds=30))
            if report(db, emu).reported:
                reported_on.append(day)

    assert reported_on == [0, 7, 14, 21]


def test_a_shortened_cycle_period_applies_to_every_account_at_once(db: TestDatabase) -> None:
    emu = AtlassianEmulator(users=people(3))
    with signed_in(db, emu):
        first = report(db, emu)
        emu.privacy.cycle_period = "P1D"
        newcomer = emu.users[2].account_id
        db.execute(
            "UPDATE kavach_accounts SET privacy_reported_at = NULL WHERE provider_account_id = :id",
            id=newcomer,
        )  # as if they signed in today: due at once, so the run hears of the new cycle
        a_day_passes(db)
        next_day = report(db, emu)
        a_day_passes(db)
        day_after = report(db, emu)

    assert (first.reported, first.cycle_period) == (3, "P7D")
    # The first answer says P1D: the accounts reported a day ago are due in that same run.
    assert (next_day.reported, next_day.cycle_period) == (3, "P1D")
    assert (day_after.due, day_after.reported) == (3, 3)


def test_two_report_runs_at_once_report_each_account_once_and_erase_once(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    ada = emu.users[0]
    emu.privacy.close(ada.account_id)
    told: list[str] = []

    async def two_runs() -> list[PersonalDataReport]:
        # Each call answers slowly, so the second run starts while the first is sending.
        emu.faults.add("report_accounts", Fault("latency", seconds=0.3, times=2))
        runs = (
            report_personal_data(
                [emulator_provider(emu)],
                database_url=db.url,
                secret=SECRET,
                http_transport=emulator_transport(emu),
                on_account_closed=lambda closed: told.append(closed.user_id),
            )
            for _ in range(2)
        )
        return list(await asyncio.gather(*runs))

    with signed_in(db, emu):
        ada_id = user_id_of(db, ada.account_id)
        results = asyncio.run(two_runs())
        held = db.scalar(
            "SELECT COUNT(*) FROM kavach_accounts WHERE privacy_claimed_by IS NOT NULL"
        )

    assert sum(result.reported for result in results) == 2
    assert emu.calls["report_accounts"] == 1
    assert told == [ada_id]
    assert [result.closed for result in results if result.closed] == [(ada.account_id,)]
    assert held == 0


def test_a_run_that_crashed_holds_its_accounts_only_until_its_claim_lapses(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    with signed_in(db, emu):
        # A run that died while sending: its claim is held for CLAIM_LEASE.
        db.execute(
            "UPDATE kavach_accounts SET privacy_claimed_by = :run, privacy_claim_until = :until",
            run="crashed",
            until=utcnow() + CLAIM_LEASE,
        )
        while_held = report(db, emu)
        db.execute("UPDATE kavach_accounts SET privacy_claim_until = :until", until=ago(seconds=1))
        after = report(db, emu)

    assert (while_held.due, while_held.reported) == (0, 0)
    assert (after.due, after.reported) == (2, 2)


def test_a_closed_account_is_erased_everywhere_and_the_others_stay(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    ada, grace = emu.users
    emu.privacy.close(ada.account_id)
    told: list[ClosedAccount] = []
    with signed_in(db, emu) as browsers:
        ada_id, grace_id = user_id_of(db, ada.account_id), user_id_of(db, grace.account_id)
        result = report(db, emu, on_account_closed=told.append)
        ada_session = browsers[ada.account_id].get(SESSION)
        grace_session = browsers[grace.account_id].get(SESSION)

    assert result.closed == (ada.account_id,)
    assert told == [ClosedAccount(user_id=ada_id, account_id=ada.account_id)]
    # Gone: her linked account (tokens, cached sites, account id), sessions and profile.
    assert ada_session.status_code == 401
    assert db.scalar("SELECT COUNT(*) FROM kavach_sessions WHERE user_id = :id", id=ada_id) == 0
    assert (
        db.rows("SELECT provider_account_id FROM kavach_accounts WHERE user_id = :id", id=ada_id)
        == []
    )
    # Kept: her user row's id and times, so the app's own rows that refer to it stay valid.
    assert db.rows(
        "SELECT email, email_normalized, name, image FROM kavach_users WHERE id = :id", id=ada_id
    ) == [(None, None, None, None)]
    # Grace is untouched.
    assert grace_session.status_code == 200
    assert grace_session.json()["user"]["email"] == grace.email
    assert db.scalar("SELECT COUNT(*) FROM kavach_accounts WHERE user_id = :id", id=grace_id) == 1
    at_rest = db.at_rest()
    assert ada.email is not None
    assert grace.email is not None
    assert ada.email.encode() not in at_rest
    assert ada.name.encode() not in at_rest
    assert ada.account_id.encode() not in at_rest
    assert grace.email.encode() in at_rest, "the scan reads what is stored"


def test_erasing_a_person_appends_to_the_session_feed_as_the_transactions_last_step(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    emu.privacy.close(emu.users[0].account_id)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    with signed_in(db, emu):
        event.listen(Engine, "before_cursor_execute", record)
        try:
            report(db, emu)
        finally:
            event.remove(Engine, "before_cursor_execute", record)

    def last(prefix: str) -> int:
        return max(i for i, statement in enumerate(statements) if statement.startswith(prefix))

    # On PostgreSQL appending takes the feed's lock until the commit: nothing may follow it.
    appended = last("INSERT INTO KAVACH_SESSION_CHANGES")
    assert last("DELETE FROM KAVACH_ACCOUNTS") < appended
    assert last("UPDATE KAVACH_USERS") < appended


# PostgreSQL's files are the server's, not ours to read: docs/atlassian-rules.md says what it keeps.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_on_sqlite_the_erased_bytes_leave_the_database_file_and_its_wal(db: TestDatabase) -> None:
    assert db.path is not None
    emu = AtlassianEmulator()
    ada, grace = emu.users
    with signed_in(db, emu) as browsers:
        # Her second sign-in rewrites her row: no copy of the old one may linger either.
        sign_in(browsers[ada.account_id], emu, user=ada)
        emu.privacy.close(ada.account_id)
        result = report(db, emu)

    wal = db.path.with_name(db.path.name + "-wal")
    raw = db.raw_bytes()
    assert result.closed == (ada.account_id,)
    assert result.erased_from_disk is True
    assert not wal.exists() or wal.stat().st_size == 0
    assert ada.email is not None
    assert grace.email is not None
    for trace in (ada.email, ada.name, ada.account_id):
        assert trace.encode() not in raw, trace
    assert grace.email.encode() in raw, "the scan reads what is stored"


def test_an_updated_profile_is_read_again_at_once(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    grace = emu.users[1]
    with signed_in(db, emu) as browsers:
        grace.name, grace.email = "Grace B. Hopper", "grace.hopper@example.com"
        emu.privacy.mark_updated(grace.account_id, at=utcnow())
        result = report(db, emu)
        profile = browsers[grace.account_id].get(SESSION).json()["user"]

    assert result.updated == (grace.account_id,)
    assert result.reread == 1
    assert (profile["name"], profile["email"]) == ("Grace B. Hopper", "grace.hopper@example.com")
    assert not db.scalar(
        "SELECT profile_stale FROM kavach_accounts WHERE provider_account_id = :id",
        id=grace.account_id,
    )


def test_an_updated_profile_left_for_later_is_read_at_the_next_token_use(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    grace = emu.users[1]
    with signed_in(db, emu) as browsers:
        grace.name = "Grace B. Hopper"
        emu.privacy.mark_updated(grace.account_id, at=utcnow())
        result = report(db, emu, reread_now=False)
        before = browsers[grace.account_id].get(SESSION).json()["user"]["name"]
        used = browsers[grace.account_id].get("/token")
        after = browsers[grace.account_id].get(SESSION).json()["user"]["name"]

    assert (result.updated, result.reread) == ((grace.account_id,), 0)
    assert used.status_code == 200
    assert (before, after) == ("Grace Hopper", "Grace B. Hopper")
    assert emu.calls["me"] == 3, "two sign-ins, then one read again"


def test_a_429_in_the_middle_is_waited_out_and_the_run_resumes(db: TestDatabase) -> None:
    emu = AtlassianEmulator(users=people(100))
    seen: list[ReportProgress] = []

    def after_each_call(progress: ReportProgress) -> None:
        seen.append(progress)
        if len(seen) == 1:
            emu.faults.add("report_accounts", Fault("rate_limit", retry_after=1, times=1))

    with signed_in(db, emu):
        result = report(db, emu, on_progress=after_each_call)

    assert (result.reported, result.calls, result.rate_limited) == (100, 2, 1)
    assert result.complete
    assert [progress.waiting for progress in seen] == [None, 1.0, None]
    assert emu.calls["report_accounts"] == 3


def test_a_429_longer_than_max_wait_stops_and_the_next_run_resumes(db: TestDatabase) -> None:
    emu = AtlassianEmulator(users=people(100))

    def after_first_call(progress: ReportProgress) -> None:
        if progress.reported == 90:
            emu.faults.add("report_accounts", Fault("rate_limit", retry_after=600, times=1))

    with signed_in(db, emu):
        stopped = report(db, emu, on_progress=after_first_call, max_wait=60)
        resumed = report(db, emu)

    assert (stopped.reported, stopped.complete, stopped.retry_after) == (90, False, 600.0)
    assert (resumed.due, resumed.reported, resumed.complete) == (10, 10, True)


def test_a_failing_hook_keeps_the_person_for_the_next_run(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    ada = emu.users[0]
    emu.privacy.close(ada.account_id)

    def refuse(closed: ClosedAccount) -> None:
        raise RuntimeError("the app's own erasure failed")

    with signed_in(db, emu):
        failed = report(db, emu, on_account_closed=refuse)
        kept = db.scalar(
            "SELECT COUNT(*) FROM kavach_accounts WHERE provider_account_id = :id",
            id=ada.account_id,
        )
        retried = report(db, emu)

    assert (failed.closed, failed.hook_failures) == ((), (ada.account_id,))
    assert kept == 1
    assert retried.closed == (ada.account_id,)


def test_a_failing_hook_is_logged_by_its_type_and_message_without_a_traceback(
    db: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    emu = AtlassianEmulator()
    emu.privacy.close(emu.users[0].account_id)

    def refuse(closed: ClosedAccount) -> None:
        raise RuntimeError("the app's own erasure failed")

    with signed_in(db, emu), caplog.at_level(logging.INFO, logger="kavach_fastapi"):
        report(db, emu, on_account_closed=refuse)

    (line,) = [r for r in caplog.records if "on_account_closed failed" in r.getMessage()]
    assert "RuntimeError: the app's own erasure failed" in line.getMessage()
    assert line.exc_info is None
    assert line.stack_info is None


def test_no_usable_grant_is_one_clear_error(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    with signed_in(db, emu):
        db.execute("UPDATE kavach_accounts SET needs_reauth = :yes", yes=True)
        with pytest.raises(NoUsableGrantError, match="No stored Atlassian grant"):
            report(db, emu)

    assert emu.calls["report_accounts"] == 0


def test_a_403_to_a_freshly_refreshed_token_stops_and_names_the_missing_permission(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    with signed_in(db, emu):
        emu.faults.add("report_accounts", Fault("status", status=403))
        with pytest.raises(ConfigurationError, match="report:personal-data") as raised:
            report(db, emu)
        emu.faults.clear()
        reauth = db.scalar("SELECT COUNT(*) FROM kavach_accounts WHERE needs_reauth = :y", y=True)

    assert raised.value.code == ErrorCode.NOT_CONFIGURED
    assert "developer console" in raised.value.message
    # One call, one refresh, the call again: no other person's grant is refreshed or blamed.
    assert (emu.calls["report_accounts"], emu.calls["refresh"]) == (2, 1)
    assert reauth == 0


def test_the_grant_of_as_user_authorises_the_calls(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    grace = emu.users[1]
    with signed_in(db, emu):
        result = report(db, emu, as_user=user_id_of(db, grace.account_id))
        db.execute("UPDATE kavach_accounts SET privacy_reported_at = NULL")
        with pytest.raises(NoUsableGrantError, match="user nobody"):
            report(db, emu, as_user="nobody")

    assert result.reported == 2


@pytest.fixture
def cli_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[AtlassianEmulator]:
    """An emulator on a real socket, and the settings ``kavach`` reads pointing at it."""
    emu = AtlassianEmulator()
    with emu.serve() as url:
        client = emu.default_client
        for name, value in {
            "ATLASSIAN_CLIENT_ID": client.client_id,
            "ATLASSIAN_CLIENT_SECRET": client.client_secret,
            "ATLASSIAN_AUTH_URL": url,
            "ATLASSIAN_API_URL": url,
            "KAVACH_SECRET": SECRET,
        }.items():
            monkeypatch.setenv(name, value)
        yield emu


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_kavach_privacy_report_json_is_one_document_with_progress_on_stderr(
    db: TestDatabase, cli_environment: AtlassianEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = cli_environment
    ada = emu.users[0]
    emu.privacy.close(ada.account_id)
    with signed_in(db, emu):
        status, out = run_cli("privacy", "report", "--json", "--database-url", db.url)

    result = json.loads(out)
    assert status == 0
    assert result["reported"] == 2
    assert result["closed"] == 1
    assert ada.account_id not in out, "an erased person's id stays out of the cron log"
    assert result["complete"] is True
    assert result["cycle_period"] == "P7D"
    assert "reported 2/2 accounts (1 closed, 0 updated)" in capsys.readouterr().err


def test_kavach_privacy_report_says_what_it_did(
    db: TestDatabase, cli_environment: AtlassianEmulator
) -> None:
    emu = cli_environment
    with signed_in(db, emu):
        first_status, first = run_cli("privacy", "report", "--database-url", db.url)
        second_status, second = run_cli("privacy", "report", "--database-url", db.url)

    assert first_status == second_status == 0
    assert "Reported 2 of 2 accounts in 1 calls" in first
    assert "Nothing to report" in second


def test_kavach_privacy_report_without_a_grant_is_one_line_and_exit_2(
    db: TestDatabase, cli_environment: AtlassianEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with signed_in(db, cli_environment):
        db.execute("UPDATE kavach_accounts SET needs_reauth = :yes", yes=True)
        capsys.readouterr()
        status, out = run_cli("privacy", "report", "--json", "--database-url", db.url)

    err = capsys.readouterr().err
    assert status == 2
    assert out == ""
    assert err.startswith("kavach: No stored Atlassian grant can call")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_sign_in_reads_a_marked_profile_again(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    grace = emu.users[1]
    with signed_in(db, emu) as browsers:
        emu.privacy.mark_updated(grace.account_id, at=utcnow())
        report(db, emu, reread_now=False)
        marked = db.scalar(
            "SELECT profile_stale FROM kavach_accounts WHERE provider_account_id = :id",
            id=grace.account_id,
        )
        sign_in(browsers[grace.account_id], emu, user=grace)
        after = db.scalar(
            "SELECT profile_stale FROM kavach_accounts WHERE provider_account_id = :id",
            id=grace.account_id,
        )

    assert bool(marked) is True
    assert bool(after) is False


def test_a_dead_grant_is_passed_over_for_another(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    ada, grace = emu.users
    with signed_in(db, emu):
        for person in (ada, grace):
            emu.revoke_grant(person.account_id)
        with pytest.raises(NoUsableGrantError):
            report(db, emu)
        dead = db.scalar("SELECT COUNT(*) FROM kavach_accounts WHERE needs_reauth = :yes", yes=True)
    with signed_in(db, emu):  # both sign in again: new grants; Grace's, the newest, is tried first
        emu.revoke_grant(grace.account_id)
        result = report(db, emu)
        marked = db.rows(
            "SELECT provider_account_id FROM kavach_accounts WHERE needs_reauth = :y", y=True
        )

    assert dead == 2, "each refused grant was refreshed once, then marked for consent"
    assert result.reported == 2
    assert marked == [(grace.account_id,)]


def test_an_undecodable_report_answer_is_retried_then_ends_the_run_as_provider_unavailable(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    with signed_in(db, emu):
        garbled = UndecodableAnswers(emulator_transport(emu), REPORT_PATH)
        with pytest.raises(ProviderUnavailableError):
            report(db, emu, http_transport=garbled)
        resumed = report(db, emu)

    assert emu.calls["report_accounts"] == 3 + 1  # three tries, then the next run
    assert (resumed.reported, resumed.complete) == (2, True)


def test_endless_429s_end_the_run_instead_of_waiting_forever(db: TestDatabase) -> None:
    emu = AtlassianEmulator()
    with signed_in(db, emu):
        emu.faults.add("report_accounts", Fault("rate_limit", retry_after=0))
        stopped = report(db, emu)
        emu.faults.clear()
        resumed = report(db, emu)

    assert (stopped.reported, stopped.complete, stopped.rate_limited) == (0, False, 11)
    assert (resumed.reported, resumed.complete) == (2, True)
