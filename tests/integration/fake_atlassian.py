"""A scriptable stand-in for Atlassian at the HTTP transport, for faults the emulator cannot make.

Each test sets what the token and profile endpoints answer (a response, or an exception such as a
timeout) and reads back the requests that were made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

Answer = httpx2.Response | Exception | Callable[[httpx2.Request], httpx2.Response]

ACCESS_TOKEN = "atl-access-token-0123456789abcdef"
REFRESH_TOKEN = "atl-refresh-token-0123456789abcdef"
CLIENT_SECRET = "client-secret-do-not-leak-0123456789"


def profile(**overrides: Any) -> dict[str, Any]:
    """An Atlassian ``/me`` answer."""
    data: dict[str, Any] = {
        "account_id": "712020:aaaaaaaa-0000-0000-0000-000000000001",
        "account_type": "atlassian",
        "account_status": "active",
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
        "nickname": "ada",
        "picture": "https://avatars.example/ada.png",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def token_answer(**overrides: Any) -> dict[str, Any]:
    """An Atlassian token endpoint answer."""
    data: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "expires_in": 3600,
        "scope": "read:me offline_access",
        "token_type": "Bearer",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@dataclass
class FakeAtlassian:
    """Answers ``/oauth/token`` and ``/me`` as scripted; records every request."""

    token: Answer = field(default_factory=lambda: httpx2.Response(200, json=token_answer()))
    me: Answer = field(default_factory=lambda: httpx2.Response(200, json=profile()))
    requests: list[httpx2.Request] = field(default_factory=list)

    def transport(self) -> httpx2.MockTransport:
        """The transport to give ``kavach_router(http_transport=...)``."""
        return httpx2.MockTransport(self._handle)

    def set_profile(self, **overrides: Any) -> None:
        """Make ``/me`` describe another person."""
        self.me = httpx2.Response(200, json=profile(**overrides))

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [request.url.path for request in self.requests]

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if request.url.path == "/oauth/token":
            return self._answer(self.token, request)
        if request.url.path == "/me":
            return self._answer(self.me, request)
        return httpx2.Response(404, json={"message": "not found"})

    @staticmethod
    def _answer(answer: Answer, request: httpx2.Request) -> httpx2.Response:
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx2.Response):
            # A Response can only be consumed once; hand out a fresh copy each time.
            return httpx2.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        return answer(request)
