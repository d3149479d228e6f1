"""Rate limiting of sign-in starts and callbacks, per client address, shared by all workers.

A fixed one-minute window per address, counted in the database with one atomic conditional
upsert, so the limit holds across worker processes and app instances (it does not live in one
process's memory) and a refused request writes nothing. ``KAVACH_RATE_LIMIT`` sets how many
requests a window allows; ``0`` turns it off.

What is counted under which key:

* an IPv4 address counts on its own, and so does an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``);
* an IPv6 address counts for its whole ``/64``: one subscriber usually holds a ``/64`` and picks
  addresses in it freely, so counting each address would give them billions of limits;
* a request without an address (``uvicorn --uds``, a server that reports none) is not counted.
  Putting all of them in one bucket would let one client lock every other out; a warning tells
  the operator how to make the server report addresses.

A callback that carries a pending sign-in of this very browser (its ``state`` and its binding
cookie match a live attempt) is never refused: a person coming back from the consent page gets
in even when their address is over the limit. A forged callback matches no attempt and counts.

The client address is what the ASGI server reports. Behind a proxy, tell the server which
proxies to trust (``uvicorn --forwarded-allow-ips``); the package itself never reads
``X-Forwarded-For``, so a client cannot pick its own address.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import time
from datetime import datetime, timezone
from typing import TypeGuard

from .crypto import hash_token
from .errors import RateLimitedError
from .store.attempts import AttemptStore
from .store.counters import CounterStore

logger = logging.getLogger("kavach_fastapi")

WINDOW_SECONDS = 60

IPV6_PREFIX = 64
"""IPv6 addresses count per network of this prefix length."""

_MAX_LOOKED_UP = 128
"""Longer ``state`` or binding values are never issued, so they cannot name a pending attempt."""

NO_ADDRESS_WARNING = (
    "kavach: the ASGI server reported no client IP address for a sign-in request (it gave %r), "
    "so the sign-in rate limit cannot apply to it (this is logged once per app). Make the server "
    "report client addresses: behind a proxy on a Unix socket, have the proxy set "
    "X-Forwarded-For to the client's address and start uvicorn with --forwarded-allow-ips='*'; "
    "behind a proxy on TCP, name the proxy in --forwarded-allow-ips."
)


def bucket_of(address: str | None) -> str | None:
    """The key under which requests from ``address`` are counted.

    Returns:
        The IPv4 address (also for an IPv4-mapped IPv6 address), the ``/64`` network of an
        IPv6 address, or ``None`` when there is no address to count: none was reported, or
        the server put something that is not an IP address in its place.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class RateLimiter:
    """Counts requests per client address and refuses those over the limit.

    Args:
        counters: the counters table.
        attempts: the pending sign-ins (a returning callback is never refused).
        per_minute: requests allowed per address and minute; ``0`` allows everything.
    """

    def __init__(self, counters: CounterStore, attempts: AttemptStore, *, per_minute: int) -> None:
        self._counters = counters
        self._attempts = attempts
        self.per_minute = per_minute
        self._warned_no_address = False

    async def hit(self, address: str | None, *, now: float | None = None) -> None:
        """Count one request from ``address``, unless the limit is already reached.

        Args:
            address: the client address as the ASGI server reports it, ``None`` if it did not.
            now: the time, in seconds since the epoch (tests); the clock when ``None``.

        Raises:
            RateLimitedError: the address is over the limit in this window; ``retry_after``
                says when the window ends. Nothing was written.
        """
        if self.per_minute <= 0:
            return
        key = bucket_of(address)
        if key is None:
            self._warn_no_address(address)
            return
        moment = time.time() if now is None else now
        window = int(moment // WINDOW_SECONDS)
        if await self._counters.count_hit(key, window, limit=self.per_minute) is None:
            retry_after = max(1, int((window + 1) * WINDOW_SECONDS - moment) + 1)
            raise RateLimitedError(retry_after=retry_after)
        if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
            await self._counters.forget_windows_before(window - 1)

    async def hit_callback(
        self,
        address: str | None,
        *,
        provider: str,
        state: str | None,
        browser_binding: str | None,
        now: float | None = None,
    ) -> None:
        """Count a sign-in callback, unless it finishes a sign-in this browser started.

        Args:
            address: the client address as the ASGI server reports it.
            provider: the provider id of the callback URL.
            state: the callback's ``state``.
            browser_binding: the value of the browser's binding cookie.
            now: the time, in seconds since the epoch (tests); the clock when ``None``.

        Raises:
            RateLimitedError: as `hit`.
        """
        if self.per_minute <= 0:
            return
        moment = time.time() if now is None else now
        if await self._is_returning(provider, state, browser_binding, moment):
            return
        await self.hit(address, now=moment)

    async def _is_returning(
        self, provider: str, state: str | None, browser_binding: str | None, moment: float
    ) -> bool:
        if not _could_be_token(state) or not _could_be_token(browser_binding):
            return False
        return await self._attempts.has_pending_attempt(
            hash_token(state),
            hash_token(browser_binding),
            provider=provider,
            now=datetime.fromtimestamp(moment, tz=timezone.utc),
        )

    def _warn_no_address(self, reported: str | None) -> None:
        # Once: every request of such a deployment lacks an address, and a line per request
        # would bury everything else in the log.
        if not self._warned_no_address:
            self._warned_no_address = True
            logger.warning(NO_ADDRESS_WARNING, None if reported is None else reported[:64])


def _could_be_token(value: str | None) -> TypeGuard[str]:
    return value is not None and 0 < len(value) <= _MAX_LOOKED_UP and value.isascii()
