"""Transports that stand between the app and the emulator, for answers no fault can give."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2

NOT_GZIP = b"this is not gzip"


@dataclass
class UndecodableAnswers(httpx2.AsyncBaseTransport):
    """Passes every call to ``inner`` (so Atlassian acts on it), but, while ``armed``, answers
    calls to ``path`` with a body that cannot be decoded: ``Content-Encoding: gzip`` over bytes
    that are not gzip, as a broken proxy or a truncated answer gives.
    """

    inner: httpx2.AsyncBaseTransport
    path: str
    armed: bool = True

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if not self.armed or request.url.path != self.path:
            return response
        await response.aread()
        return httpx2.Response(
            response.status_code,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
            content=NOT_GZIP,
        )
