"""Reading Atlassian's ``Cycle-Period`` header (an ISO 8601 duration)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kavach_fastapi.privacy import parse_cycle_period


@pytest.mark.parametrize(
    ("header", "period"),
    [
        ("P7D", timedelta(days=7)),
        ("PT12H", timedelta(hours=12)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("pt1.5s", timedelta(seconds=1.5)),
    ],
)
def test_a_cycle_period_is_read_as_a_duration(header: str, period: timedelta) -> None:
    assert parse_cycle_period(header) == period


@pytest.mark.parametrize("header", [None, "", "P", "PT", "7 days", "P0D", "P1M2", "-P7D"])
def test_a_missing_or_unreadable_cycle_period_is_none(header: str | None) -> None:
    assert parse_cycle_period(header) is None
