"""Grant health from the times the package keeps: Atlassian's 90-day and 365-day rules."""

from __future__ import annotations

import argparse
import io
from datetime import datetime, timedelta, timezone

import pytest

from kavach_fastapi.cli._durations import duration
from kavach_fastapi.cli._progress import ProgressReport
from kavach_fastapi.grant_health import GrantFacts, grant_start_after_consent, health_of

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
MONTH = timedelta(days=30)


def facts(**changes: object) -> GrantFacts:
    values: dict[str, object] = {
        "account_id": "a",
        "provider": "atlassian",
        "needs_reauth": False,
        "has_access_token": True,
        "has_refresh_token": True,
        "granted_at": NOW - timedelta(days=100),
        "tokens_issued_at": NOW - timedelta(hours=1),
        **changes,
    }
    return GrantFacts(**values)  # type: ignore[arg-type]


def health(**changes: object) -> tuple[bool, bool, bool, bool]:
    found = health_of(facts(**changes), now=NOW, idle_after=MONTH, expiring_within=MONTH)
    return found.healthy, found.needs_consent, found.idle, found.expiring


def test_a_recently_refreshed_young_grant_is_healthy() -> None:
    assert health() == (True, False, False, False)


@pytest.mark.parametrize(
    "changes",
    [
        {"needs_reauth": True},
        {"has_access_token": False},
        {"has_refresh_token": False},
        {"tokens_issued_at": NOW - timedelta(days=90)},
        {"granted_at": NOW - timedelta(days=365)},
    ],
    ids=["marked dead", "disconnected", "no offline access", "idle 90 days", "365 days old"],
)
def test_a_grant_that_cannot_be_used_offline_needs_consent(changes: dict[str, object]) -> None:
    assert health(**changes) == (False, True, False, False)


def test_a_grant_not_refreshed_for_the_threshold_is_idle() -> None:
    assert health(tokens_issued_at=NOW - MONTH) == (False, False, True, False)
    assert health(tokens_issued_at=NOW - MONTH + timedelta(seconds=1))[0]


def test_a_grant_reaching_365_days_within_the_window_is_expiring() -> None:
    assert health(granted_at=NOW - timedelta(days=335)) == (False, False, False, True)
    assert health(granted_at=NOW - timedelta(days=334))[0]


def test_a_grant_can_be_idle_and_expiring_at_once() -> None:
    found = health(granted_at=NOW - timedelta(days=350), tokens_issued_at=NOW - MONTH)
    assert found == (False, False, True, True)


def test_a_first_consent_starts_the_grant() -> None:
    assert (
        grant_start_after_consent(granted_at=None, tokens_issued_at=None, found_dead=False, now=NOW)
        == NOW
    )


def test_a_consent_while_the_grant_lives_keeps_its_start() -> None:
    start = NOW - timedelta(days=200)
    assert (
        grant_start_after_consent(
            granted_at=start, tokens_issued_at=NOW - timedelta(days=2), found_dead=False, now=NOW
        )
        == start
    )


@pytest.mark.parametrize(
    ("granted", "issued", "dead"),
    [(200, 2, True), (365, 2, False), (200, 90, False)],
    ids=["found dead", "past 365 days", "unused 90 days"],
)
def test_a_consent_after_the_grant_ended_starts_a_new_one(
    granted: int, issued: int, dead: bool
) -> None:
    assert (
        grant_start_after_consent(
            granted_at=NOW - timedelta(days=granted),
            tokens_issued_at=NOW - timedelta(days=issued),
            found_dead=dead,
            now=NOW,
        )
        == NOW
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("30", timedelta(days=30)), ("12h", timedelta(hours=12)),
     ("2w", timedelta(weeks=2)), (" 7D ", timedelta(days=7))],
)  # fmt: skip
def test_durations_are_days_hours_or_weeks(text: str, expected: timedelta) -> None:
    assert duration(text) == expected


@pytest.mark.parametrize("text", ["", "a month", "-3d", "3m", "1.5d"])
def test_other_durations_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="such as 30d"):
        duration(text)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_one_bar() -> None:
    stream = Terminal()
    report = ProgressReport(stream, "Working")
    for done in range(1, 5):
        report.update(done, 4)
    report.finish()

    text = stream.getvalue()
    assert text.count("\r") == 4
    assert text.endswith("\rWorking [" + "#" * 30 + "] 4/4\n")


def test_progress_elsewhere_prints_about_ten_plain_lines() -> None:
    stream = io.StringIO()
    report = ProgressReport(stream, "Working")
    for done in range(1, 101):
        report.update(done, 100)
    report.finish()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[-1] == "Working: 100/100"
    assert "\r" not in stream.getvalue()
