"""At most once per interval for each key, in one process, with bounded memory."""

from __future__ import annotations

import time
from collections.abc import Callable


class OncePer:
    """Lets a thing happen at most once per ``interval`` seconds for each key.

    Used where a failure must not turn every request into a call to the provider: a refresh
    caused by a refusal, a profile read again. It remembers at most ``capacity`` keys; when
    full, the keys whose interval has passed are forgotten first.

    Args:
        interval: seconds between two allowed times for one key.
        capacity: keys remembered before the expired ones are dropped.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        interval: float,
        *,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._capacity = capacity
        self._clock = clock
        self._last: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        """``True`` (and remembered as now) unless ``key`` was allowed within the interval."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        if len(self._last) >= self._capacity:
            horizon = now - self.interval
            self._last = {k: at for k, at in self._last.items() if at > horizon}
        self._last[key] = now
        return True
