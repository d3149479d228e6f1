"""The demo's emulator, at whatever host and port the demo is served from.

The demo mounts the Atlassian emulator on its own server, so the browser must be sent to the
emulator at the origin it used to reach the demo (``uvicorn ... --port 8011``, ``localhost``
or ``127.0.0.1``), and the emulator must know the callback URL kavach builds for that origin.
The provider is built once, with an assumed base (``http://127.0.0.1:8000/_emulator``); two
pieces put each request's own origin in its place:

* :class:`ServedOrigin`, an ASGI middleware, remembers the origin of each request and rewrites
  the sign-in redirect to the emulator at that origin. It registers the ``redirect_uri`` that
  kavach put in that redirect with the emulator's demo app, as a developer registers the
  callback URL of the address their app runs at in Atlassian's console. The emulator itself
  still matches callback URLs exactly, as Atlassian does.
* :class:`ServedOriginTransport` sends the server's calls to the emulator in-process, as if
  they came to that origin, so the links the emulator answers with (avatar pictures) point
  where the browser can load them.
"""

from __future__ import annotations

from contextvars import ContextVar
from urllib.parse import parse_qs, urlsplit

import httpx2
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kavach_fastapi.emulator import AtlassianEmulator

__all__ = ["ServedOrigin", "ServedOriginTransport"]

_served_base: ContextVar[str | None] = ContextVar("served_base", default=None)
"""The base URL (origin and root path) of the request being answered, if any."""


class ServedOrigin:
    """ASGI middleware: send the browser to the emulator at the origin the demo is served at.

    Args:
        app: The demo app.
        emulator: The emulator mounted in it; the callback URLs of served origins are
            registered with its demo app.
        assumed_url: The emulator's URL the provider was built with.
        emulator_path: Where the emulator is mounted, such as ``/_emulator``.
    """

    def __init__(
        self, app: ASGIApp, *, emulator: AtlassianEmulator, assumed_url: str, emulator_path: str
    ) -> None:
        self.app = app
        self.emulator = emulator
        self.assumed_url = assumed_url.rstrip("/")
        self.emulator_path = emulator_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request, with its origin in place of the assumed one."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The origin kavach builds its callback URL from: the request's own (Host header).
        base = str(Request(scope).base_url).rstrip("/")
        served_url = f"{base}{self.emulator_path}"

        async def send_from_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._redirect_to(served_url, message)
            await send(message)

        token = _served_base.set(base)
        try:
            await self.app(scope, receive, send_from_origin)
        finally:
            _served_base.reset(token)

    def _redirect_to(self, served_url: str, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        location = headers.get("location", "")
        if not location.startswith(f"{self.assumed_url}/"):
            return
        headers["location"] = served_url + location[len(self.assumed_url) :]
        self._register_callback(location)

    def _register_callback(self, authorize_url: str) -> None:
        query = parse_qs(urlsplit(authorize_url).query)
        client = self.emulator.default_client
        if query.get("client_id") != [client.client_id]:
            return
        for redirect_uri in query.get("redirect_uri", []):
            if redirect_uri not in client.redirect_uris:
                client.redirect_uris.append(redirect_uri)


class ServedOriginTransport(httpx2.AsyncBaseTransport):
    """Send the demo's calls to its emulator in-process, as if they came to the served origin.

    Args:
        app: The demo app, with the emulator mounted in it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one call, addressed to the origin of the request being served, if any."""
        base = _served_base.get()
        # A Host header that is not ASCII names no origin a browser could load links from.
        if base is not None and base.isascii():
            served = urlsplit(base)
            request.url = request.url.copy_with(
                scheme=served.scheme, netloc=served.netloc.encode("ascii")
            )
            request.headers["host"] = served.netloc
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the in-process transport."""
        await self._inner.aclose()
