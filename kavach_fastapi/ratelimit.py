"""Rate limiting of sign-in starts and callbacks, per client address, shared by all workers.

A fixed one-minute window per address, counted in the database with one atomic upsert, so the
limit holds across worker processes and app instances (it does not live in one process's
memory). ``KAVACH_RATE_LIMIT`` sets how many requests a window allows; ``0`` turns it off.

The client address is what the ASGI server reports. Behind a proxy, tell the server which
proxies to trust (``uvicorn --forwarded-allow-ips``); the package itself never reads
``X-Forwarded-For``, so a client cannot pick its own address.
"""

from __future__ import annotations

import random
import time

from .errors import RateLimitedError
from .store import Store

WINDOW_SECONDS = 60


class RateLimiter:
    """Counts requests per key and refuses those over the limit.

    Args:
        store: the database.
        per_minute: requests allowed per key and minute; ``0`` allows everything.
    """

    def __init__(self, store: Store, *, per_minute: int) -> None:
        self._store = store
        self.per_minute = per_minute

    async def hit(self, key: str, *, now: float | None = None) -> None:
        """Count one request for ``key``.

        Raises:
            RateLimitedError: the key is over the limit in this window; ``retry_after`` says
                when the window ends.
        """
        if self.per_minute <= 0:
            return
        moment = time.time() if now is None else now
        window = int(moment // WINDOW_SECONDS)
        count = await self._store.count_hit(key[:200], window)
        if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
            await self._store.forget_windows_before(window - 1)
        if count > self.per_minute:
            retry_after = max(1, int((window + 1) * WINDOW_SECONDS - moment) + 1)
            raise RateLimitedError(retry_after=retry_after)
