"""Hearing of new change-feed entries at once, on PostgreSQL: ``LISTEN``/``NOTIFY`` as a hint.

Every append to the feed also sends ``NOTIFY kavach_session_changes``, which PostgreSQL
delivers when the appending transaction commits. Each process listens on one connection of its
own and, when notified, reads the feed now rather than at its next turn: a session ended in one
process is refused by the others within milliseconds, not up to ``KAVACH_SESSION_CACHE_SECONDS``.

It is a hint only; the bound does not rest on it. The feed is still read every half bound and a
request still waits for an overdue read, so a notification lost or late costs nothing but speed.
A lost listening connection is opened again (after `RETRY_FIRST`, doubling up to `RETRY_MOST`);
whatever was appended meanwhile is read on the feed's schedule, and at once when it listens
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from .feed import FEED_CHANNEL

logger = logging.getLogger("kavach_fastapi")

RETRY_FIRST = 1.0
"""Seconds before the first attempt to listen again after the connection was lost."""
RETRY_MOST = 30.0
"""The longest wait between attempts."""


class FeedListener:
    """Calls ``on_change`` whenever an entry may have been appended to the feed.

    Args:
        engine: the PostgreSQL engine; one of its connections is held while listening (and
            closed, never given back to the pool, when listening ends).
        on_change: what to do when an entry was appended or may have been missed; called on
            the event loop, it must not block.
    """

    def __init__(self, engine: AsyncEngine, on_change: Callable[[], None]) -> None:
        self._engine = engine
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        self.listening = False
        """Whether a connection is listening now."""

    def start(self) -> None:
        """Begin listening in the background (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._listen())

    async def aclose(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        delay = RETRY_FIRST
        failed = False
        while True:
            try:
                await self._listen_until_lost(recovered=failed)
            except Exception as exc:
                if not failed:
                    logger.warning(
                        "kavach cannot listen for session changes (%s): reading the change "
                        "feed on its schedule until it can.",
                        type(exc).__name__,
                    )
                failed = True
            else:
                failed, delay = True, RETRY_FIRST
                logger.warning(
                    "kavach stopped hearing of session changes: reading the change feed on its "
                    "schedule until it hears again."
                )
            # Nothing is read here: what is appended meanwhile is read on the feed's schedule,
            # and at once when listening again. A read made here as the database shuts down
            # fails, so a worker that serves no requests would log an outage and log its end
            # only at its next query, the next attempt to listen, up to `RETRY_MOST` later.
            # (That, not a broken connection, failed the outage test while a read was made
            # here: all its clients were served by the other worker.)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MOST)

    async def _listen_until_lost(self, *, recovered: bool) -> None:
        """Listen on a connection of its own until the connection is lost."""
        lost = asyncio.Event()
        held = await self._engine.connect()
        try:
            raw = await held.get_raw_connection()
            driver: Any = raw.driver_connection
            driver.add_termination_listener(lambda _connection: lost.set())
            await driver.add_listener(FEED_CHANNEL, self._notified)
            self.listening = True
            if recovered:
                logger.info("kavach hears of session changes again.")
                self._on_change()  # what was appended before the LISTEN took effect
            await lost.wait()
        finally:
            self.listening = False
            # The connection carries a LISTEN: it is closed, never given back to the pool.
            with contextlib.suppress(Exception):
                await held.invalidate()
            with contextlib.suppress(Exception):
                await held.close()

    def _notified(self, *_args: object) -> None:
        self._on_change()
