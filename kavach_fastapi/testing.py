"""Helpers for testing an app that uses kavach-fastapi, with the Atlassian emulator.

Build the app with the emulator as its Atlassian, then sign people in from tests:

    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from kavach_fastapi import kavach_router
    from kavach_fastapi.emulator import AtlassianEmulator
    from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in

    emulator = AtlassianEmulator()
    app = FastAPI()
    app.include_router(
        kavach_router([emulator_provider(emulator)], http_transport=emulator_transport(emulator)),
        prefix="/api/kavach",
    )
    with TestClient(app) as client:
        sign_in(client, emulator)
        assert client.get("/me").status_code == 200

The pytest plugin wraps the same in fixtures (``kavach_client``, ``kavach_signed_in_client``);
see `kavach_fastapi.pytest_plugin`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from .providers.atlassian import AtlassianProvider, atlassian_provider

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from .emulator import AtlassianEmulator, EmulatedUser

EMULATOR_URL = "http://atlassian.emulator"
"""The base URL the in-process emulator answers at (no network is involved)."""


def emulator_provider(
    emulator: AtlassianEmulator,
    *,
    scopes: Sequence[str] = ("read:jira-user",),
    base_url: str = EMULATOR_URL,
) -> AtlassianProvider:
    """An Atlassian provider that signs in against ``emulator`` with its default app."""
    client = emulator.default_client
    return atlassian_provider(
        client.client_id,
        client.client_secret,
        scopes=list(scopes),
        auth_url=base_url,
        api_url=base_url,
    )


def emulator_transport(emulator: AtlassianEmulator) -> httpx2.AsyncBaseTransport:
    """The transport that routes the app's calls to Atlassian into ``emulator``, in-process."""
    return httpx2.ASGITransport(app=emulator.app)


def _register_redirect_uri(emulator: AtlassianEmulator, consent_url: str) -> None:
    query = parse_qs(urlsplit(consent_url).query)
    client = emulator.clients.get(query.get("client_id", [""])[0])
    redirect_uri = query.get("redirect_uri", [""])[0]
    if client is not None and redirect_uri and redirect_uri not in client.redirect_uris:
        # Tests run the app at hosts and prefixes of their own; register them as a developer
        # would in Atlassian's console.
        client.redirect_uris.append(redirect_uri)


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def sign_in(
    client: TestClient,
    emulator: AtlassianEmulator,
    *,
    user: EmulatedUser | None = None,
    site_ids: list[str] | None = None,
    redirect_to: str | None = "/",
    provider: str = "atlassian",
) -> httpx2.Response:
    """Sign a person in through the app's real endpoints and the emulator's consent.

    Args:
        client: a ``TestClient`` of the app (started, so its lifespan ran).
        emulator: the emulator the app signs in against.
        user: who signs in; the emulator's first user by default.
        site_ids: the sites to grant; all by default.
        redirect_to: where the app should land afterwards; ``None`` sends none, so the
            app's ``landing_url`` applies.
        provider: the provider id.

    Returns:
        The callback's answer (303, with the session cookie now in ``client``).

    Raises:
        AssertionError: the sign-in did not succeed; the message says why.
    """
    app: Any = client.app
    authorize = app.url_path_for("kavach_authorize", provider=provider)
    params = {} if redirect_to is None else {"redirect_to": redirect_to}
    started = client.get(authorize, params=params, follow_redirects=False)
    if started.status_code != 302:
        raise AssertionError(f"authorize answered {started.status_code}: {started.text}")
    consent_url = started.headers["location"]
    _register_redirect_uri(emulator, consent_url)
    callback_url = _run(emulator.approve(consent_url, user=user, site_ids=site_ids))
    finished = client.get(_path_and_query(callback_url), follow_redirects=False)
    location = finished.headers.get("location", "")
    if finished.status_code != 303 or "error=" in urlsplit(location).query:
        raise AssertionError(f"sign-in failed: {finished.status_code} {location}")
    return finished


def _run(coroutine: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    coroutine.close()
    raise RuntimeError(
        "sign_in() is for synchronous tests; in async tests use TestClient from a sync fixture"
    )
