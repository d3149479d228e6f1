"""A short database write tried again while the database is unavailable, and only then."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kavach_fastapi.errors import DatabaseUnavailableError
from kavach_fastapi.retry import WriteRetries, retry_while_unavailable

Write = Callable[[], Awaitable[str]]


def failing(times: int, error: Exception | None = None) -> tuple[Write, list[float]]:
    """A write that fails ``times`` times (unavailable, or with ``error``), then returns
    ``"done"``; and the `time.monotonic` of each try."""
    tries: list[float] = []

    async def write() -> str:
        tries.append(time.monotonic())
        if len(tries) <= times:
            raise error or DatabaseUnavailableError
        return "done"

    return write, tries


async def retried(write: Write, **limits: Any) -> str:
    """``write`` through `retry_while_unavailable`: 4 tries, 0.01 s apart, within 5 s, unless
    ``limits`` say otherwise."""
    until = limits.pop("until", None)
    retries = WriteRetries(**({"attempts": 4, "backoff": 0.01, "budget": 5.0} | limits))
    return await retry_while_unavailable(write, retries, until=until)


async def test_a_write_the_database_fails_once_is_tried_again_after_the_backoff() -> None:
    write, tries = failing(1)

    assert await retried(write, backoff=0.05) == "done"

    assert len(tries) == 2
    assert tries[1] - tries[0] >= 0.05


async def test_the_pauses_double_and_the_last_failure_is_raised_after_every_try() -> None:
    write, tries = failing(10)

    with pytest.raises(DatabaseUnavailableError):
        await retried(write, attempts=3, backoff=0.05)

    assert len(tries) == 3
    assert tries[2] - tries[1] >= 0.1 > tries[1] - tries[0] >= 0.05


async def test_no_try_starts_past_the_budget() -> None:
    write, tries = failing(10)

    with pytest.raises(DatabaseUnavailableError):
        await retried(write, attempts=10, backoff=0.1, budget=0.25)

    assert len(tries) == 2  # the third would start 0.3 s in


async def test_no_try_starts_past_until_even_within_the_budget() -> None:
    write, tries = failing(10)

    with pytest.raises(DatabaseUnavailableError):
        await retried(write, attempts=10, backoff=0.1, until=time.monotonic() + 0.05)

    assert len(tries) == 1


async def test_a_failure_other_than_an_outage_is_raised_at_once() -> None:
    write, tries = failing(1, ValueError("a bug"))

    with pytest.raises(ValueError, match="a bug"):
        await retried(write)

    assert len(tries) == 1
