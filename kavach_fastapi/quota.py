"""The quota guard: one long ``429`` stops every worker from calling that site until it passes.

Since 2026 Atlassian meters 3LO apps with points-based hourly quotas: a site's quota (or the
app's global one) can be used up for many minutes, and a fleet of workers that each keep trying
only burns more. So:

* a ``429`` whose ``Retry-After`` is longer than the retries wait in place
  (`RetryPolicy.max_delay`, 5 s), or that names a quota without saying how long, is recorded in
  the database (``kavach_quota_blocks``) as "blocked until" with its ``RateLimit-Reason``. Most
  reasons block that site; ``jira-quota-global-based`` (the app's quota over every site) blocks
  every site of the provider. The call is answered
  [`QuotaExhaustedError`][kavach_fastapi.QuotaExhaustedError] (503 ``quota_exhausted``,
  ``Retry-After`` the time left);
* every later call for a blocked site, in any worker or job, fails the same way before anything
  is sent, until the time has passed; other sites keep working;
* a short ``Retry-After`` is retried in place as before (`kavach_fastapi.retry`);
* an answer whose ``X-RateLimit-NearLimit`` is ``true``, or whose ``X-RateLimit-Remaining`` is
  near zero, is logged (at most once a minute per site and process), with no token in the line.

Each process keeps the blocks in memory and reads the table again at most every
``KAVACH_QUOTA_CHECK_INTERVAL`` seconds (1 s by default): the hot path does one small query per
second per process at most, and a block recorded by one worker stops every other worker within
that interval. A block this process recorded stops it at once. Expired rows are deleted by the
housekeeping sweep (`kavach_fastapi.housekeeping`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta, timezone

import httpx2

from . import metrics
from .background import settle
from .errors import DatabaseUnavailableError, QuotaExhaustedError
from .retry import MAX_RETRY_WAIT, retry_after_seconds
from .store.quota import QuotaBlock, QuotaStore
from .tables import utcnow

logger = logging.getLogger("kavach_fastapi")

EVERY_SITE = "*"
"""The ``site`` of a block that covers every site of a provider (a global quota)."""

GLOBAL_REASONS = frozenset({"jira-quota-global-based"})
"""``RateLimit-Reason`` values that speak of the app's quota over every site."""

QUOTA_REASONS = frozenset({"jira-quota-global-based", "jira-quota-tenant-based"})
"""Reasons that mean an hourly quota is used up (not a burst of a second or so)."""

DEFAULT_BLOCK = timedelta(minutes=1)
"""How long a quota ``429`` that says neither ``Retry-After`` nor a future reset blocks."""

NEAR_LIMIT_FRACTION = 0.05
"""``X-RateLimit-Remaining`` at or below this share of ``X-RateLimit-Limit`` is "near zero"."""

WARNING_INTERVAL = 60.0
"""Seconds between two near-limit log lines for one site in one process."""

MAX_WARNED_SITES = 10_000


def rate_limit_reason(response: httpx2.Response) -> str:
    """``RateLimit-Reason`` (or the beta ``X-Beta-RateLimit-Reason``), or ``"unknown"``."""
    for name in ("ratelimit-reason", "x-ratelimit-reason", "x-beta-ratelimit-reason"):
        value = response.headers.get(name, "").strip()
        if value:
            return value[:100]
    return "unknown"


def _reset_in(response: httpx2.Response, now: datetime) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (``yyyy-MM-ddTHH:mmZ``), when it is in the future."""
    value = response.headers.get("x-ratelimit-reset", "").strip()
    try:
        reset = datetime.strptime(value, "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    seconds = (reset - now).total_seconds()
    return seconds if 0 < seconds <= 86400 else None


@dataclass(eq=False)
class QuotaGuard:
    """Fails calls to blocked sites fast, and records the blocks a ``429`` asks for.

    Attributes:
        store: the ``kavach_quota_blocks`` table.
        check_interval: seconds a process trusts what it last read before reading again.
        longest_in_place_wait: a ``Retry-After`` up to this is retried in place, not recorded.
        clock: a monotonic clock, in seconds.
    """

    store: QuotaStore
    _: KW_ONLY
    check_interval: float = 1.0
    longest_in_place_wait: float = MAX_RETRY_WAIT
    clock: Callable[[], float] = time.monotonic
    _blocks: dict[tuple[str, str], QuotaBlock] = field(default_factory=dict, init=False, repr=False)
    _read_at: float | None = field(default=None, init=False, repr=False)
    _reading: asyncio.Future[None] | None = field(default=None, init=False, repr=False)
    _warned_at: dict[tuple[str, str], float] = field(default_factory=dict, init=False, repr=False)

    async def aclose(self) -> None:
        """The app's shutdown: a read of the blocks under way finishes or is cancelled."""
        if self._reading is not None:
            await settle([self._reading])

    async def check(self, provider: str, site: str) -> None:
        """Return if ``site`` may be called now; otherwise raise without calling anyone.

        Raises:
            QuotaExhaustedError: the site (or every site) is blocked; ``retry_after`` is the
                time left, in whole seconds.
        """
        await self._read_if_due()
        block = self._block_of(provider, site, utcnow())
        if block is not None:
            metrics.record_quota_refusal(provider, _scope(block))
            raise _exhausted(block, utcnow())

    async def after_rate_limit(
        self, provider: str, site: str, response: httpx2.Response, *, product: str | None = None
    ) -> None:
        """Look at a ``429`` for ``site``: record a block (and raise) if it asks for a long wait.

        A wait the retries make in place (``Retry-After`` up to ``longest_in_place_wait``, or
        none at all for a burst limit) returns, so the caller retries as before.

        Raises:
            QuotaExhaustedError: the block now recorded.
        """
        reason = rate_limit_reason(response)
        metrics.record_rate_limited(provider, product, reason)
        now = utcnow()
        wait = retry_after_seconds(response)
        if wait is None and reason in QUOTA_REASONS:
            wait = _reset_in(response, now) or DEFAULT_BLOCK.total_seconds()
        if wait is None or wait <= self.longest_in_place_wait:
            return
        scope = EVERY_SITE if reason in GLOBAL_REASONS else site
        block = QuotaBlock(provider, scope, now + timedelta(seconds=wait), reason)
        self._remember(block)
        logger.warning(
            "%s refused calls to %s for %d s (429, RateLimit-Reason %s): calls fail fast until %s",
            provider,
            "every site" if scope == EVERY_SITE else f"site {site}",
            math.ceil(wait),
            reason,
            block.blocked_until.isoformat(timespec="seconds"),
        )
        metrics.record_quota_block(provider, reason, _scope(block))
        try:
            await self.store.block(block, now=now)
        except DatabaseUnavailableError:
            # This process still holds the block; other workers meet their own 429.
            logger.warning("kavach could not record the quota block: the database is away")
        raise _exhausted(block, now)

    def after_answer(
        self, provider: str, site: str, response: httpx2.Response, *, product: str | None = None
    ) -> None:
        """Log (rarely) an answer that says the quota is nearly used up."""
        headers = response.headers
        near = headers.get("x-ratelimit-nearlimit", headers.get("x-beta-ratelimit-nearlimit"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        limit = _int(headers.get("x-ratelimit-limit"))
        low = remaining is not None and (remaining <= (limit * NEAR_LIMIT_FRACTION if limit else 0))
        if not (low or (near or "").strip().lower() == "true"):
            return
        metrics.record_quota_warning(provider, product)
        now = self.clock()
        key = (provider, site)
        last = self._warned_at.get(key)
        if last is not None and now - last < WARNING_INTERVAL:
            return
        if len(self._warned_at) >= MAX_WARNED_SITES:
            self._warned_at.clear()
        self._warned_at[key] = now
        logger.warning(
            "%s quota nearly used up for site %s: X-RateLimit-Remaining %s of %s, "
            "X-RateLimit-NearLimit %s, RateLimit-Reason %s",
            provider,
            site,
            remaining if remaining is not None else "-",
            limit if limit is not None else "-",
            (near or "-").strip()[:10],
            rate_limit_reason(response),
        )

    def _remember(self, block: QuotaBlock) -> None:
        key = (block.provider, block.site)
        known = self._blocks.get(key)
        if known is None or known.blocked_until < block.blocked_until:
            self._blocks[key] = block

    def _block_of(self, provider: str, site: str, now: datetime) -> QuotaBlock | None:
        found = [
            block
            for block in (
                self._blocks.get((provider, site)),
                self._blocks.get((provider, EVERY_SITE)),
            )
            if block is not None and block.blocked_until > now
        ]
        return max(found, key=lambda block: block.blocked_until) if found else None

    async def _read_if_due(self) -> None:
        if self._read_at is not None and self.clock() - self._read_at < self.check_interval:
            return
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
        reading = self._reading
        try:
            await asyncio.shield(reading)
        finally:
            if self._reading is reading and reading.done():
                self._reading = None

    async def _read(self) -> None:
        started = self.clock()
        now = utcnow()
        try:
            found = await self.store.active_blocks(now=now)
        except DatabaseUnavailableError:
            # Fail open on what this process knows: the database's own outage is answered
            # by whatever needs it next; a quota check alone never turns it into a 503.
            self._read_at = started
            return
        current = {key: block for key, block in self._blocks.items() if block.blocked_until > now}
        self._blocks = current
        for block in found:
            self._remember(block)
        self._read_at = started


def _scope(block: QuotaBlock) -> str:
    return "app" if block.site == EVERY_SITE else "site"


def _exhausted(block: QuotaBlock, now: datetime) -> QuotaExhaustedError:
    left = max(1, math.ceil((block.blocked_until - now).total_seconds()))
    if block.site == EVERY_SITE:
        message = "Atlassian's request quota for this app is used up. Please try again later."
    else:
        message = None
    return QuotaExhaustedError(message, retry_after=left)


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None
