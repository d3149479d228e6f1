"""One way to retry a provider call: a policy, a loop, and what the caller hears at the end.

Token refreshes, product-API calls and the list of sites all go through `with_retries`:
transient failures (timeouts, connection errors, 5xx, 429) are retried with backoff that honours
``Retry-After``, within `RetryPolicy`, then surface as
[`ProviderUnavailableError`][kavach_fastapi.ProviderUnavailableError] (503 with ``Retry-After``).

A short database write that must not be lost to a moment's outage (a refreshed token pair, the
undo of a sign-in a hook failed) goes through `retry_while_unavailable` instead: tried again
while the database is unavailable, a few times within a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx2

from .errors import DatabaseUnavailableError, ProviderUnavailableError

logger = logging.getLogger("kavach_fastapi")

T = TypeVar("T")

ATTEMPTS = 3
"""Tries of one call before a transient failure is reported (503)."""

MAX_RETRY_WAIT = 5.0
"""Longest pause between tries, in seconds; a longer ``Retry-After`` is passed to the client."""


class TransientFailure(Exception):  # noqa: N818 - a signal, caught at once by with_retries
    """A failure that may pass: timeout, connection error, 5xx or 429.

    Attributes:
        retry_after: seconds the provider asked us to wait, if it said.
        unapplied: the provider cannot have acted on the request: it was never sent (the
            connection failed), or the provider refused it with ``429`` and ``Retry-After``.
            Only then may a request that is not idempotent be sent again.
        rate_limited: the provider answered ``429``.
    """

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        *,
        unapplied: bool = False,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.unapplied = unapplied
        self.rate_limited = rate_limited


def retry_after_seconds(response: httpx2.Response) -> float | None:
    """The ``Retry-After`` of a response in seconds, if present and sane (at most a day).

    Both forms HTTP allows are read: delta seconds (``120``) and an HTTP date
    (``Wed, 21 Oct 2026 07:28:00 GMT``), which counts as the time left until then (``0`` once
    it has passed).
    """
    value = response.headers.get("retry-after", "").strip()
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value)
    if seconds is None:
        return None
    return seconds if 0 <= seconds <= 86400 else None


def _seconds_until(http_date: str) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no zone said
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def transient_answer(response: httpx2.Response) -> TransientFailure:
    """The signal for a ``429`` or ``5xx``; a ``429`` with ``Retry-After`` was not applied."""
    retry_after = retry_after_seconds(response)
    rate_limited = response.status_code == 429
    return TransientFailure(
        f"HTTP {response.status_code}",
        retry_after,
        unapplied=rate_limited and retry_after is not None,
        rate_limited=rate_limited,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How transient provider failures are retried.

    Attributes:
        attempts: tries in all.
        base_delay: first pause in seconds, doubled on each retry.
        max_delay: the longest pause; a longer ``Retry-After`` ends the retries.
    """

    attempts: int = ATTEMPTS
    base_delay: float = 0.2
    max_delay: float = MAX_RETRY_WAIT

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before try ``attempt + 1``; ``None`` when giving up is better."""
        if attempt + 1 >= self.attempts:
            return None
        wait = retry_after if retry_after is not None else self.base_delay * 2**attempt
        return None if wait > self.max_delay else wait


async def with_retries(
    send: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    what: str,
    provider: str,
    repeatable: bool,
) -> T:
    """Run ``send`` until it succeeds, retrying transient failures within ``policy``.

    Args:
        send: one try.
        policy: how many tries and how long between them.
        what: names the call in log lines.
        provider: the provider's name, for the message the client hears.
        repeatable: the call may be repeated whatever happened to it (it is idempotent);
            otherwise only failures the provider cannot have acted on are retried.

    Raises:
        ProviderUnavailableError: out of tries, or a failure that must not be retried.
    """
    attempt = 0
    while True:
        try:
            return await send()
        except TransientFailure as exc:
            retry = repeatable or exc.unapplied
            wait = policy.delay(attempt, exc.retry_after) if retry else None
            logger.warning(
                "%s failed (%s) on try %d; %s",
                what,
                exc,
                attempt + 1,
                "giving up" if wait is None else f"trying again in {wait:.1f} s",
            )
            if wait is None:
                raise unavailable(exc, provider, maybe_applied=not retry) from None
            await asyncio.sleep(wait)
            attempt += 1


def unavailable(
    exc: TransientFailure, provider: str, *, maybe_applied: bool = False
) -> ProviderUnavailableError:
    """What the client hears when a transient failure is not (or no more) retried."""
    retry_after = max(1, round(exc.retry_after or 5))
    if exc.rate_limited:
        message = f"{provider} is rate-limiting requests. Please try again shortly."
    elif maybe_applied:
        message = (
            f"{provider} did not answer in time, and the change may have been made: "
            "check before trying again."
        )
    else:
        message = None
    return ProviderUnavailableError(message, retry_after=retry_after)


@dataclass(frozen=True)
class WriteRetries:
    """How a short database write is tried again while the database is unavailable.

    Attributes:
        attempts: tries in all.
        backoff: seconds before the second try; each pause after doubles.
        budget: seconds from the first try within which the tries start.
    """

    attempts: int
    backoff: float
    budget: float


SHORT_WRITE = WriteRetries(attempts=4, backoff=0.2, budget=3.0)
"""For a write that must not be lost to a moment's outage and that someone waits on: the save
of a refreshed token pair (a request, within its lease), the undo of a sign-in a hook failed
(the browser). 4 tries within 3 s."""


async def retry_while_unavailable(
    write: Callable[[], Awaitable[T]], retries: WriteRetries, *, until: float | None = None
) -> T:
    """Run a short database write, trying it again while the database is unavailable.

    Each try is a unit of work of its own (a transaction that failed was rolled back), so
    ``write`` must be one that may simply be run again. Only
    [`DatabaseUnavailableError`][kavach_fastapi.DatabaseUnavailableError] is retried; any
    other failure is raised at once.

    Args:
        write: one try.
        retries: how many tries, how far apart, within how long.
        until: a `time.monotonic` time no try starts after either (a lease's end), if any.

    Raises:
        DatabaseUnavailableError: every try failed, or the next would start too late.
    """
    deadline = time.monotonic() + retries.budget
    if until is not None:
        deadline = min(deadline, until)
    pause = retries.backoff
    for attempt in range(1, retries.attempts + 1):
        try:
            return await write()
        except DatabaseUnavailableError:
            if attempt == retries.attempts or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover
