"""The emulator's clock: every expiry the emulator enforces is measured with it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

__all__ = ["EmulatorClock"]


class EmulatorClock:
    """A clock that tests can move forward.

    Without a starting instant the clock follows the wall clock, shifted by however far it
    has been advanced, so a long-running demo sees tokens expire in real time. Given a
    starting instant the clock is frozen there and moves only when told to.

    Args:
        now: The instant to freeze the clock at; naive datetimes are taken as UTC. ``None``
            follows the wall clock.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> clock = EmulatorClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
        >>> clock.advance(timedelta(minutes=11))
        >>> clock.now().isoformat()
        '2030-01-01T00:11:00+00:00'
    """

    def __init__(self, now: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen_at = _as_utc(now) if now is not None else None
        self._offset = timedelta(0)

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still between calls to `advance`."""
        return self._frozen_at is not None

    def now(self) -> datetime:
        """Return the current emulated instant, an aware UTC datetime."""
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else datetime.now(timezone.utc)
            return base + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward.

        Args:
            delta: How far to move; must not be negative (time never runs backwards).

        Raises:
            ValueError: If ``delta`` is negative.
        """
        if delta < timedelta(0):
            raise ValueError("the emulator clock never runs backwards")
        with self._lock:
            self._offset += delta


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
