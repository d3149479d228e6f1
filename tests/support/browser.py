"""A browser that signs in: authorize, the emulator's consent, the callback, each step checked.

The app is reached through the ``httpx2.AsyncClient`` a test gives (in-process over ASGI, or a
served app over a socket); the consent is the emulator's. With the emulator object at hand,
``approve()`` presses Accept in-process (the user and sites are the test's to choose); with
only its URL (an emulator served with ``auto_consent``, maybe in another process), the browser
follows its redirect over HTTP, on a connection of its own so that the app's stays put.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser

__all__ = [
    "AUTHORIZE",
    "CALLBACK",
    "PREFIX",
    "Consent",
    "consent",
    "finish_sign_in",
    "session_cookie",
    "sign_in",
    "start_sign_in",
]

PREFIX = "/api/kavach"
"""Where every test app mounts the router."""

AUTHORIZE = f"{PREFIX}/auth/oauth/authorize/atlassian"
CALLBACK = f"{PREFIX}/auth/oauth/callback/atlassian"


@dataclass(frozen=True)
class Consent:
    """A started sign-in: the app's answer, where it sent the browser, what it bound to it."""

    response: httpx2.Response
    url: str
    state: str
    redirect_uri: str
    binding: str


async def start_sign_in(
    client: httpx2.AsyncClient,
    *,
    redirect_to: str | None = None,
    headers: dict[str, str] | None = None,
    authorize: str = AUTHORIZE,
) -> Consent:
    """Call the authorize endpoint as a browser would; the binding cookie lands in its jar."""
    params = {} if redirect_to is None else {"redirect_to": redirect_to}
    response = await client.get(authorize, params=params, headers=headers)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    binding = next(
        (value for name, value in response.cookies.items() if name.endswith("kavach_signin")), ""
    )
    return Consent(response, location, query["state"], query["redirect_uri"], binding)


async def consent(
    started: Consent,
    emulator: AtlassianEmulator | None = None,
    *,
    user: EmulatedUser | None = None,
    site_ids: list[str] | None = None,
    timeout: float = 10.0,
) -> str:
    """Press Accept on the emulator's consent; the callback URL (with code and state).

    Args:
        started: The sign-in the app started.
        emulator: The emulator, to approve in-process; when not given, the emulator the app
            points at must be served with ``auto_consent`` and is asked over HTTP.
        user: Who signs in (in-process only); the emulator's first user by default.
        site_ids: The sites to grant (in-process only); every site by default.
        timeout: Seconds to wait for a served emulator.
    """
    if emulator is not None:
        return await emulator.approve(started.url, user=user, site_ids=site_ids)
    if user is not None or site_ids is not None:
        raise TypeError("choosing who consents, and to which sites, needs the emulator object")
    async with httpx2.AsyncClient(timeout=timeout, trust_env=False) as atlassian:
        answer = await atlassian.get(started.url)  # auto_consent: no page
    assert answer.status_code == 302, answer.text
    return urljoin(started.url, str(answer.headers["location"]))


async def finish_sign_in(client: httpx2.AsyncClient, callback: str) -> httpx2.Response:
    """Open the callback the emulator sent the browser back to; the app's ``303`` answer.

    ``callback`` may be a path and query only, to finish on whichever server ``client`` reaches.
    """
    assert urlsplit(callback).path.endswith("/auth/oauth/callback/atlassian"), callback
    finished = await client.get(callback)
    assert finished.status_code == 303, finished.text
    assert "error=" not in finished.headers["location"], finished.headers["location"]
    return finished


async def sign_in(
    client: httpx2.AsyncClient,
    emulator: AtlassianEmulator | None = None,
    *,
    user: EmulatedUser | None = None,
    site_ids: list[str] | None = None,
    redirect_to: str | None = None,
) -> httpx2.Response:
    """A whole successful sign-in; returns the callback's answer (its cookie is in the jar)."""
    started = await start_sign_in(client, redirect_to=redirect_to)
    callback = await consent(started, emulator, user=user, site_ids=site_ids)
    return await finish_sign_in(client, callback)


def session_cookie(client: httpx2.AsyncClient) -> str | None:
    """The session cookie in a browser's jar (plain or ``__Host-`` named)."""
    for cookie in client.cookies.jar:
        if cookie.name.endswith("kavach_session") and cookie.value:
            return cookie.value
    return None
