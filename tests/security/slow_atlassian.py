"""The emulator behind a real loopback socket that can trickle its answers, one byte at a time.

A hostile or broken provider does not have to be silent to hold a request open: it can send its
status line and headers at once and then the body a byte every 0.2 s, so that no single read ever
waits long enough for a per-read timeout. :class:`TricklingAtlassian` is that provider. It serves
on ``127.0.0.1`` (the app reaches it through the package's own pooled HTTP transport, as it would
reach Atlassian), has the emulator answer each request in-process, and sends the answers to the
paths in :attr:`TricklingAtlassian.trickled` slowly; every other answer goes out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator

TRICKLE_INTERVAL = 0.2
"""Seconds between two bytes of a trickled body."""

TRICKLED_BODY = 1000
"""Trickled bodies are padded (with JSON white space) to at least this many bytes: 200 s."""


class TricklingAtlassian:
    """The emulator on a loopback socket; answers to :attr:`trickled` paths come a byte at a time.

    Use as ``async with TricklingAtlassian(emulator) as atlassian:``; ``atlassian.url`` is the
    base URL to configure as both ``ATLASSIAN_AUTH_URL`` and ``ATLASSIAN_API_URL``.
    """

    def __init__(self, emulator: AtlassianEmulator) -> None:
        self.emulator = emulator
        self.trickled: set[str] = set()
        """Paths whose answers are trickled; change it at any time."""
        self.url = ""
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._closing = False

    async def __aenter__(self) -> TricklingAtlassian:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        # A handler still trickling to a client that gave up stops at its next byte.
        self._closing = True
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                method, path, headers, body = await _read_request(reader)
                status, answer_headers, answer = await self._emulate(method, path, headers, body)
                slow = path.split("?", 1)[0] in self.trickled
                if slow:
                    answer = answer.ljust(TRICKLED_BODY)
                head = [f"HTTP/1.1 {status} Answer"]
                head += [f"{name}: {value}" for name, value in answer_headers]
                head += [f"Content-Length: {len(answer)}", "Connection: close", "", ""]
                writer.write("\r\n".join(head).encode("latin-1"))
                await writer.drain()
                if not slow:
                    writer.write(answer)
                    await writer.drain()
                for index in range(len(answer) if slow else 0):
                    if self._closing:
                        break
                    writer.write(answer[index : index + 1])
                    await writer.drain()
                    await asyncio.sleep(TRICKLE_INTERVAL)
        finally:
            self._handlers.discard(handler)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _emulate(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        forwarded = [(name, value) for name, value in headers if name.lower() != "host"]
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.emulator.app), base_url=self.url
        ) as client:
            response = await client.request(method, path, headers=forwarded, content=body)
        kept = [
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in ("content-length", "connection", "transfer-encoding")
        ]
        return response.status_code, kept, response.content


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, list[tuple[str, str]], bytes]:
    request_line = (await reader.readuntil(b"\r\n")).decode("latin-1").strip()
    method, path, _version = request_line.split(" ", 2)
    headers: list[tuple[str, str]] = []
    while (line := (await reader.readuntil(b"\r\n")).decode("latin-1").strip()) != "":
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    length = next((int(value) for name, value in headers if name.lower() == "content-length"), 0)
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body
