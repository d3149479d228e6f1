"""A small driver of the OAuth flow against an emulator, shared by the emulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedClient, EmulatedUser, pkce_challenge

SCOPES = "read:me read:jira-user read:jira-work read:confluence-user offline_access"
VERIFIER = "a-pkce-code-verifier-that-is-long-enough-0123456789"


def query_of(url: str) -> dict[str, str]:
    """Return the query parameters of a URL."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


class Flow:
    """Drives one emulator through an ``httpx2.AsyncClient`` over its ASGI app."""

    def __init__(self, emulator: AtlassianEmulator, client: httpx2.AsyncClient) -> None:
        self.emu = emulator
        self.client = client

    def authorize_params(
        self, app: EmulatedClient | None = None, /, **overrides: str | None
    ) -> dict[str, str]:
        app = app or self.emu.default_client
        params: dict[str, str | None] = {
            "audience": "api.atlassian.com",
            "client_id": app.client_id,
            "scope": SCOPES,
            "redirect_uri": app.redirect_uris[0],
            "state": "state-123",
            "response_type": "code",
            "prompt": "consent",
            "code_challenge": pkce_challenge(VERIFIER),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {name: value for name, value in params.items() if value is not None}

    def authorize_url(self, app: EmulatedClient | None = None, /, **overrides: str | None) -> str:
        return "/authorize?" + urlencode(self.authorize_params(app, **overrides))

    async def code(
        self,
        *,
        app: EmulatedClient | None = None,
        user: EmulatedUser | None = None,
        site_ids: list[str] | None = None,
        **overrides: str | None,
    ) -> str:
        callback = await self.emu.approve(
            self.authorize_url(app, **overrides), user=user, site_ids=site_ids
        )
        return query_of(callback)["code"]

    async def exchange(
        self,
        code: str,
        *,
        app: EmulatedClient | None = None,
        as_json: bool = True,
        **overrides: str | None,
    ) -> httpx2.Response:
        app = app or self.emu.default_client
        body: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "code": code,
            "redirect_uri": app.redirect_uris[0],
            "code_verifier": VERIFIER,
        }
        body.update(overrides)
        return await self.post_token(body, as_json=as_json)

    async def post_token(
        self, body: dict[str, str | None], *, as_json: bool = True
    ) -> httpx2.Response:
        fields = {name: value for name, value in body.items() if value is not None}
        if as_json:
            return await self.client.post("/oauth/token", json=fields)
        return await self.client.post(
            "/oauth/token",
            content=urlencode(fields),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

    async def sign_in(
        self,
        *,
        app: EmulatedClient | None = None,
        user: EmulatedUser | None = None,
        site_ids: list[str] | None = None,
        scope: str = SCOPES,
    ) -> dict[str, Any]:
        code = await self.code(app=app, user=user, site_ids=site_ids, scope=scope)
        response = await self.exchange(code, app=app)
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    async def refresh(
        self, refresh_token: str, *, app: EmulatedClient | None = None
    ) -> httpx2.Response:
        app = app or self.emu.default_client
        return await self.post_token(
            {
                "grant_type": "refresh_token",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "refresh_token": refresh_token,
            }
        )

    async def get(self, path: str, access_token: str | None) -> httpx2.Response:
        headers = {} if access_token is None else {"Authorization": f"Bearer {access_token}"}
        return await self.client.get(path, headers=headers)

    async def me(self, access_token: str | None) -> httpx2.Response:
        return await self.get("/me", access_token)

    def jira_myself_path(self, cloud_id: str) -> str:
        return f"/ex/jira/{cloud_id}/rest/api/3/myself"


@asynccontextmanager
async def flow_for(emulator: AtlassianEmulator) -> AsyncIterator[Flow]:
    """A `Flow` against ``emulator``, over its ASGI app, for the block."""
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=emulator.app), base_url="http://emulator"
    ) as client:
        yield Flow(emulator, client)
