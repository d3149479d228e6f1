"""Two Jira sites on one emulator, and reads of the quota blocks behind the app's back."""

from __future__ import annotations

from typing import Any

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedSite
from kavach_fastapi.emulator.config import default_sites

from ..databases import TestDatabase

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


def blocks(database: TestDatabase) -> list[dict[str, Any]]:
    """Every quota block row."""
    return database.records(BLOCKS, order_by="site")
