"""Two Jira sites on one emulator, its 429s, and reads of the quota blocks behind the app's back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedSite, Fault
from kavach_fastapi.emulator.config import default_sites
from kavach_fastapi.emulator.faults import RateLimitReason

from ..databases import TestDatabase
from .token_harness import Harness, signed_in

BLOCKS = "kavach_quota_blocks"
BUSY = "2d5a9c1e-7f3b-4e8a-b6d2-9c0e1f2a3b4c"
"""The cloud id of the site whose quota runs out in the tests."""


def two_jira_sites_emulator(*, auto_consent: bool = False) -> AtlassianEmulator:
    """An emulator with *Acme Engineering* and a second Jira site, *Acme Busy*, granted both."""
    busy = EmulatedSite(id=BUSY, name="Acme Busy", url="https://acme-busy.atlassian.net")
    return AtlassianEmulator(sites=[*default_sites(), busy], auto_consent=auto_consent)


def quiet_site(emu: AtlassianEmulator) -> str:
    """The Jira site whose quota never runs out in the tests."""
    return emu.sites[0].id


@asynccontextmanager
async def both_sites_signed_in(
    database: TestDatabase, **options: Any
) -> AsyncIterator[tuple[Harness, httpx2.AsyncClient]]:
    """An app (``build_harness(database, two_jira_sites_emulator(), **options)``) running, and a
    browser signed in with both Jira sites granted."""
    emu = two_jira_sites_emulator()
    async with signed_in(database, emu, site_ids=[quiet_site(emu), BUSY], **options) as running:
        yield running


def next_jira_call_429s(
    emu: AtlassianEmulator, *, retry_after: int, reason: RateLimitReason = "jira-burst-based"
) -> None:
    """Atlassian answers the next call to Jira's ``myself`` with a 429: this ``Retry-After`` and
    this ``RateLimit-Reason``."""
    fault = Fault("rate_limit", retry_after=retry_after, times=1, reason=reason)
    emu.faults.add("jira_myself", fault)


def blocks(database: TestDatabase) -> list[dict[str, Any]]:
    """Every quota block row."""
    return database.records(BLOCKS, order_by="site")
