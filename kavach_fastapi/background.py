"""Work left running in the background, ended before the app's connections close.

A session lookup runs in a task of its own, which several requests share, and the change feed
is read in another. Both hold a database connection while they run. At shutdown, nobody may
be waiting for them (a request that gave up, a read started by the last request): they are
given a moment to finish, then cancelled, so that the engine is disposed with no connection
still checked out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

SETTLE_SECONDS = 2.0
"""How long shutdown waits for such work to finish before cancelling it: a lookup or a feed read
takes milliseconds, unless the database is out of reach."""


async def settle(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Wait up to `SETTLE_SECONDS` for ``tasks`` to finish, then cancel the rest and wait for
    them.

    Their results and errors are not wanted (whoever wanted them has gone), so none is raised.
    """
    pending = {task for task in tasks if not task.done()}
    if pending:
        _, pending = await asyncio.wait(pending, timeout=SETTLE_SECONDS)
    for task in pending:
        task.cancel()
    # Gathered with their errors, so that none is reported as never retrieved.
    await asyncio.gather(*pending, return_exceptions=True)
