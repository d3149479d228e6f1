"""Pytest fixtures that sign a person in to your kavach-fastapi app, through the emulator.

The plugin is registered as the ``kavach`` ``pytest11`` entry point, beside the emulator's own
(``kavach_emulator``, `kavach_fastapi.emulator.pytest_plugin`, which gives
``atlassian_emulator`` and the fixtures below build on). Importing it is cheap: the package is
imported only when a fixture is used.

Fixtures (each function-scoped):

``kavach_emulator_provider``
    An Atlassian provider pointed at that emulator (its demo app's credentials).

``kavach_client`` and ``kavach_signed_in_client``
    A started ``TestClient`` of your app, before and after a person signed in through the
    emulator's consent. They need one fixture of yours, ``kavach_app``: your app, with
    ``kavach_router([kavach_emulator_provider], http_transport=atlassian_emulator_transport,
    database_url=...)`` included. The documentation's example, which its tests run, shows a
    whole one: ``docs/examples/test_my_app.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from kavach_fastapi.emulator.emulator import AtlassianEmulator
    from kavach_fastapi.providers.atlassian import AtlassianProvider

__all__ = ["kavach_client", "kavach_emulator_provider", "kavach_signed_in_client"]


@pytest.fixture
def kavach_emulator_provider(atlassian_emulator: AtlassianEmulator) -> AtlassianProvider:
    """An Atlassian provider that signs in against the test's emulator, in-process.

    Build your app's router with it and with ``atlassian_emulator_transport``:

        kavach_router([kavach_emulator_provider], http_transport=atlassian_emulator_transport)
    """
    # Imported in the fixtures, not at the top: the plugin loads in every pytest run.
    from kavach_fastapi.testing import emulator_provider  # noqa: PLC0415

    return emulator_provider(atlassian_emulator)


@pytest.fixture
def kavach_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A started ``TestClient`` of your app, which you provide as a ``kavach_app`` fixture.

    Redirects are not followed, so tests can look at them.
    """
    from fastapi.testclient import TestClient  # noqa: PLC0415

    try:
        app = request.getfixturevalue("kavach_app")
    except pytest.FixtureLookupError:
        pytest.fail(
            "kavach_client needs a fixture named `kavach_app` that returns your FastAPI app, "
            "built with kavach_router([kavach_emulator_provider], "
            "http_transport=atlassian_emulator_transport)."
        )
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def kavach_signed_in_client(
    kavach_client: TestClient, atlassian_emulator: AtlassianEmulator
) -> TestClient:
    """``kavach_client`` after the emulator's first person signed in (all sites granted)."""
    from kavach_fastapi.testing import sign_in  # noqa: PLC0415

    sign_in(kavach_client, atlassian_emulator)
    return kavach_client
