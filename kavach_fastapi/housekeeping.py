"""Housekeeping as part of normal work: expired rows are deleted without a cron job.

Sign-in attempts, sessions, rate-limit counters, quota blocks and session change feed entries stop counting when they expire, but stay in
their tables until deleted. `Housekeeper` deletes them a small batch at a time, at most
once per `INTERVAL` in each process, after a sign-in start has been answered (so no request
waits for it). A backlog (a busy day, a cron job that stopped) is worked off in further small
batches, `CATCH_UP` apart, never in one long delete that would hold locks.

``kavach sessions purge`` still deletes everything at once, for those who prefer cron.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import timedelta

from .ratelimit import WINDOW_SECONDS
from .session_memory import FEED_RETENTION
from .store import Store
from .tables import utcnow

logger = logging.getLogger("kavach_fastapi")

INTERVAL = 60.0
"""Seconds between two sweeps of one process."""

CATCH_UP = 1.0
"""Seconds to the next sweep when the last one found a full batch (more is waiting)."""

BATCH = 500
"""Rows deleted from each table by one sweep."""


@dataclass(eq=False)
class Housekeeper:
    """Deletes expired sign-in attempts, expired or idle sessions, old rate-limit counters and
    quota blocks that have passed, and feed entries older than `FEED_RETENTION`.

    Attributes:
        store: the database.
        idle_timeout: a session unused for this long has ended (``KAVACH_SESSION_IDLE_TIMEOUT``).
        interval: seconds between sweeps.
        batch: rows deleted from each table per sweep.
        clock: a monotonic clock, in seconds.
    """

    store: Store
    _: KW_ONLY
    idle_timeout: timedelta
    interval: float = INTERVAL
    batch: int = BATCH
    clock: Callable[[], float] = time.monotonic
    _next_sweep: float | None = field(default=None, init=False, repr=False)
    """When this process sweeps next; ``None`` until its first call, which sweeps."""
    _sweeping: bool = field(default=False, init=False, repr=False)

    async def sweep_if_due(self) -> None:
        """Sweep if this process has not done so for ``interval`` seconds; never raises.

        Housekeeping must never fail the request that happened to trigger it: a failure (the
        database is away) is logged in one line and the next sweep simply comes later.
        """
        started = self.clock()
        if self._sweeping or (self._next_sweep is not None and started < self._next_sweep):
            return
        self._sweeping = True
        self._next_sweep = started + self.interval
        try:
            if await self.sweep() >= self.batch:
                self._next_sweep = started + CATCH_UP
        except Exception as exc:  # any failure: see the docstring
            logger.warning("kavach housekeeping skipped: %s", type(exc).__name__)
        finally:
            self._sweeping = False

    async def sweep(self) -> int:
        """Delete one batch from each table now.

        Returns:
            The largest number of rows deleted from one table (``batch`` means more is waiting).
        """
        now = utcnow()
        current_window = int(now.timestamp() // WINDOW_SECONDS)
        deleted = (
            await self.store.attempts.purge_attempts(now=now, limit=self.batch),
            await self.store.sessions.purge_sessions(
                now=now, idle_before=now - self.idle_timeout, limit=self.batch
            ),
            # The previous window is kept, as the rate limiter's own clean-up keeps it.
            await self.store.counters.forget_windows_before(current_window - 1, limit=self.batch),
            await self.store.quota.purge_blocks(now=now, limit=self.batch),
            await self.store.feed.purge_changes(before=now - FEED_RETENTION, limit=self.batch),
        )
        return max(deleted)
