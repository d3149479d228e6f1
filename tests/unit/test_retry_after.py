"""Retry-After, read in both forms HTTP allows: delta seconds and an HTTP date."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx2
import pytest

from kavach_fastapi.retry import retry_after_seconds


def answer(retry_after: str | None) -> httpx2.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx2.Response(429, headers=headers)


def in_http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(timezone.utc) + delta, usegmt=True)


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("7", 7.0), (" 120 ", 120.0)])
def test_delta_seconds_are_read_as_given(value: str, seconds: float) -> None:
    assert retry_after_seconds(answer(value)) == seconds


def test_an_http_date_is_read_as_the_seconds_left_until_then() -> None:
    seconds = retry_after_seconds(answer(in_http_date(timedelta(minutes=2))))

    assert seconds is not None
    assert 100 < seconds <= 120


def test_an_http_date_in_the_past_means_retry_now() -> None:
    assert retry_after_seconds(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0


def test_an_http_date_without_a_zone_is_utc() -> None:
    when = datetime.now(timezone.utc) + timedelta(minutes=5)

    seconds = retry_after_seconds(answer(when.strftime("%a, %d %b %Y %H:%M:%S -0000")))

    assert seconds is not None
    assert 280 < seconds <= 300


@pytest.mark.parametrize(
    "value",
    [None, "", "soon", "-5", "nan", "inf", "86401", "Thu, 32 Foo 2026 99:00:00 GMT"],
)
def test_a_missing_or_insane_value_is_none(value: str | None) -> None:
    assert retry_after_seconds(answer(value)) is None


def test_an_http_date_more_than_a_day_ahead_is_none() -> None:
    assert retry_after_seconds(answer(in_http_date(timedelta(days=2)))) is None
