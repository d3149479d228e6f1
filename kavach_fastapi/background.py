"""Work left running in the background, ended before the app's connections close.

A session lookup and a token refresh each run in a task of their own, which several requests
share and which outlives a request that gives up; the session change feed and the quota blocks
are read in tasks of their own too. Each holds a database connection (a refresh, an HTTP call
too) while it runs. At shutdown nobody may be waiting for them any more: they are given a
moment to finish, then cancelled, so that the engine and the HTTP pool are closed with nothing
still using them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

SETTLE_SECONDS = 2.0
"""How long shutdown waits for a read to finish before cancelling it: a lookup or a feed read
takes milliseconds, unless the database is out of reach."""

REFRESH_SETTLE_SECONDS = 10.0
"""How long shutdown waits for a token refresh under way. Cut short, a refresh could have had
Atlassian rotate the refresh token without storing the new one (the old one then works only for
Atlassian's grace of 10 minutes), so it is given the time a refresh takes at worst: one token
request with its retries. Once Atlassian has answered, the write of the new tokens is let
finish even past this (`run_to_the_end`; its retries are bounded by
`kavach_fastapi.retry.SHORT_WRITE`)."""


async def settle(tasks: Iterable[asyncio.Future[Any]], *, within: float | None = None) -> None:
    """Wait up to ``within`` seconds (`SETTLE_SECONDS` by default) for ``tasks`` to finish,
    then cancel the rest and wait for them.

    Their results and errors are not wanted (whoever wanted them has gone), so none is raised.
    """
    pending = {task for task in tasks if not task.done()}
    if pending:
        timeout = SETTLE_SECONDS if within is None else within
        _, pending = await asyncio.wait(pending, timeout=timeout)
    for task in pending:
        task.cancel()
    # Gathered with their errors, so that none is reported as never retrieved.
    await asyncio.gather(*pending, return_exceptions=True)


async def run_to_the_end(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile (then the
    cancellation is raised once ``work`` has ended).

    For a short write that must not be cut in two: `settle` cancelling a refresh at shutdown
    waits for the refresh's write of new tokens, which `asyncio.shield` alone would leave
    running against a database about to close.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: whoever wanted it has gone
        raise asyncio.CancelledError
    return task.result()
