"""Pytest fixtures for the Atlassian emulator, loaded in every pytest run.

The plugin is registered as the ``kavach_emulator`` ``pytest11`` entry point, so any
project with kavach-fastapi installed can use the fixtures without a ``conftest.py``.
Importing it is cheap and has no side effects: the emulator is imported only when a
fixture is used.

Fixtures (each function-scoped, so every test starts from a fresh emulator):

``atlassian_emulator``
    A new [`AtlassianEmulator`][kavach_fastapi.emulator.emulator.AtlassianEmulator] with the default people,
    sites and demo app. Configure it in the test (``auto_consent``, ``faults``,
    ``clock.advance``...) before or between requests.

``atlassian_emulator_transport``
    An ``httpx2.ASGITransport`` over that emulator's app, for network-free clients:

        async with httpx2.AsyncClient(
            transport=atlassian_emulator_transport, base_url="http://emulator"
        ) as client:
            ...

``atlassian_emulator_url``
    The base URL (``http://127.0.0.1:PORT``) of that emulator served by uvicorn on a real
    loopback socket for the duration of the test; the server stops afterwards. It needs
    uvicorn (``pip install "kavach-fastapi[emulator]"``); without it the test fails with
    that line.

The fixtures that sign a person in to a kavach-fastapi app (``kavach_emulator_provider``,
``kavach_client``, ``kavach_signed_in_client``) come from the package's own plugin,
`kavach_fastapi.pytest_plugin`: this one imports nothing of kavach-fastapi outside the
emulator (and the standard-library-only `kavach_fastapi.lazy`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx2

    from kavach_fastapi.emulator.emulator import AtlassianEmulator

__all__ = ["atlassian_emulator", "atlassian_emulator_transport", "atlassian_emulator_url"]


@pytest.fixture
def atlassian_emulator() -> AtlassianEmulator:
    """A fresh Atlassian emulator with the default people, sites and demo app."""
    # Imported in the fixtures, not at the top: the plugin loads in every pytest run.
    from kavach_fastapi.emulator.emulator import AtlassianEmulator  # noqa: PLC0415

    return AtlassianEmulator()


@pytest.fixture
def atlassian_emulator_transport(atlassian_emulator: AtlassianEmulator) -> httpx2.ASGITransport:
    """An ``httpx2.ASGITransport`` over the test's emulator."""
    import httpx2  # noqa: PLC0415

    return httpx2.ASGITransport(app=atlassian_emulator.app)


@pytest.fixture
def atlassian_emulator_url(atlassian_emulator: AtlassianEmulator) -> Iterator[str]:
    """The base URL of the test's emulator, served on a real loopback socket."""
    from kavach_fastapi.emulator.server import load_uvicorn  # noqa: PLC0415

    try:
        load_uvicorn()
    except ModuleNotFoundError as exc:
        if exc.name != "uvicorn":
            raise
        # One line naming the extra, not a traceback through the plugin.
        pytest.fail(str(exc), pytrace=False)
    with atlassian_emulator.serve() as base_url:
        yield base_url
