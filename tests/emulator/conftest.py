"""Fixtures of the emulator tests; ``atlassian_emulator`` comes from the pytest plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from kavach_fastapi.emulator import AtlassianEmulator

from .flow import Flow


@pytest.fixture
def emu(atlassian_emulator: AtlassianEmulator) -> AtlassianEmulator:
    return atlassian_emulator


@pytest.fixture
async def client(
    atlassian_emulator_transport: httpx2.ASGITransport,
) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        transport=atlassian_emulator_transport, base_url="http://emulator"
    ) as http:
        yield http


@pytest.fixture
def flow(emu: AtlassianEmulator, client: httpx2.AsyncClient) -> Flow:
    return Flow(emu, client)
