"""Recording when sessions were last used, for the idle timeout, without a request waiting.

`SessionManager` decides when a session's activity is due (every twentieth of the idle timeout,
five minutes at most); this module gathers what came due and writes it in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from .errors import DatabaseUnavailableError
from .store.sessions import SessionStore

logger = logging.getLogger("kavach_fastapi")

ACTIVITY_GATHERING = 1.0
"""Seconds the activity that came due waits, gathering more, before one write records it.

Under load sessions come due every moment; written as they came, they cost a transaction each
time the previous one had finished (with 10,000 sessions on PostgreSQL and 4 workers, a
request cost about 40 % more CPU than with one session). Gathered, they cost one transaction a second per process. Activity is
written every few minutes, so a second later changes nothing it decides."""


class ActivityRecorder:
    """Gathers the sessions whose activity came due, and writes them together.

    Args:
        store: the sessions table.
        gathering: seconds due activity gathers before one write (`ACTIVITY_GATHERING`).
    """

    def __init__(self, store: SessionStore, *, gathering: float = ACTIVITY_GATHERING) -> None:
        self._store = store
        self._gathering = gathering
        self._due: dict[str, datetime] = {}
        self._writer: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def record(self, token_hash: str, at: datetime) -> None:
        """Have the session's activity at ``at`` written with the others due; never waits."""
        self._due[token_hash] = at
        self._schedule()

    async def aclose(self) -> None:
        """Write the gathered activity now and stop gathering (the app's shutdown)."""
        if self._writer is not None:
            await self._writer
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._write_due()

    def _schedule(self) -> None:
        """Write the due activity `ACTIVITY_GATHERING` from now, unless a write is coming."""
        if self._due and self._timer is None and self._writer is None:
            self._timer = asyncio.get_running_loop().call_later(self._gathering, self._start)

    def _start(self) -> None:
        self._timer = None
        self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        try:
            await self._write_due()
        finally:
            self._writer = None
            self._schedule()  # what came due during the write

    async def _write_due(self) -> None:
        """Write the activity waiting to be recorded; never raises.

        A failure leaves it to a later check of each session.
        """
        due, self._due = self._due, {}
        if not due:
            return
        try:
            await self._store.touch_sessions(list(due), max(due.values()))
        except DatabaseUnavailableError:
            pass  # recorded at a later check of each session
        except Exception as exc:  # a background write: nobody else would see it
            logger.warning("kavach could not record session activity: %s", type(exc).__name__)
