"""For the attacks on an app's own routes that call Jira: which site is Jira, and a browser
signed in with the person's sites already listed (so that only the product call is left)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from fastapi import FastAPI

from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import browser, running, sign_in

__all__ = ["jira_site", "signed_in_with_sites"]


def jira_site(emulator: AtlassianEmulator) -> str:
    """The cloud id of the emulator's (first) Jira site."""
    return next(site.id for site in emulator.sites if "jira" in site.products)


@asynccontextmanager
async def signed_in_with_sites(
    app: FastAPI, emulator: AtlassianEmulator
) -> AsyncIterator[httpx2.AsyncClient]:
    """``app`` running, and a browser signed in to it whose sites have been listed once."""
    async with running(app), browser(app) as client:
        await sign_in(client, emulator)
        assert (await client.get("/sites")).status_code == 200
        yield client
