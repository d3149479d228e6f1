"""The kavach-fastapi demo: Sign in with Atlassian, then see your profile and sites.

Run it with ``make demo`` and open http://127.0.0.1:8000 (``make demo PORT=8011 HOST=0.0.0.0``,
or ``uvicorn example_app.main:app --port 8011``, serve it elsewhere).

With ``ATLASSIAN_CLIENT_ID`` and ``ATLASSIAN_CLIENT_SECRET`` set it signs in with the real
Atlassian (register ``http://127.0.0.1:8000/api/kavach/auth/oauth/callback/atlassian``, with the
host and port you serve it at, as the app's callback URL). Without them it signs in against the
package's Atlassian emulator, mounted at ``/_emulator`` on the same server, so it works offline
with no Atlassian app at all, on whatever host and port it is served from
(:mod:`example_app.served_origin`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import httpx2
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from kavach_fastapi import (
    AtlassianAPI,
    AtlassianSite,
    AtlassianSites,
    CurrentUser,
    User,
    atlassian_provider,
    kavach_router,
)
from kavach_fastapi.emulator import AtlassianEmulator

from .demo import DEMO_URL, EMULATOR_PATH
from .served_origin import ServedOrigin, ServedOriginTransport

logger = logging.getLogger("example_app")

PAGE = Path(__file__).with_name("page.html")

app = FastAPI(title="kavach-fastapi demo")

DEMO_SCOPES = ["read:jira-user", "read:servicedesk-request", "read:confluence-user"]
"""Beyond the defaults: Jira's `myself`, and one scope each of Jira Service Management and
Confluence, so a site that runs Jira and Jira Service Management shows as one site with both."""

USES_EMULATOR = not os.environ.get("ATLASSIAN_CLIENT_ID")
if USES_EMULATOR:
    emulator = AtlassianEmulator()
    app.mount(EMULATOR_PATH, emulator.app)
    provider = atlassian_provider(
        emulator.default_client.client_id,
        emulator.default_client.client_secret,
        scopes=DEMO_SCOPES,
        auth_url=f"{DEMO_URL}{EMULATOR_PATH}",
        api_url=f"{DEMO_URL}{EMULATOR_PATH}",
    )
    app.add_middleware(
        ServedOrigin,
        emulator=emulator,
        assumed_url=f"{DEMO_URL}{EMULATOR_PATH}",
        emulator_path=EMULATOR_PATH,
    )
    # Calls from the server to the emulator stay inside this process: no network at all.
    transport: httpx2.AsyncBaseTransport | None = ServedOriginTransport(app)
    logger.warning(
        "ATLASSIAN_CLIENT_ID is not set: signing in against the Atlassian emulator, "
        "served at %s on this server",
        EMULATOR_PATH,
    )
else:
    provider = atlassian_provider(scopes=DEMO_SCOPES)
    transport = None

app.include_router(kavach_router([provider], http_transport=transport), prefix="/api/kavach")


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home() -> HTMLResponse:
    """The demo page; it asks the API who is signed in and draws itself."""
    mode = "emulator" if USES_EMULATOR else "atlassian"
    return HTMLResponse(
        PAGE.read_text().replace("{{MODE}}", mode),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@app.get("/api/me")
async def me(user: CurrentUser) -> User:
    """The signed-in user."""
    return user


@app.get("/api/sites")
async def sites(sites: AtlassianSites) -> list[AtlassianSite]:
    """The signed-in person's Atlassian sites."""
    return sites


@app.get("/api/jira/{cloud_id}/myself")
async def jira_myself(cloud_id: str, atlassian: AtlassianAPI) -> Any:
    """Jira's ``/rest/api/3/myself`` on one of the person's sites."""
    response = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
    if response.status_code != 200:
        # Jira's refusal (a site without Jira, a scope not granted) is not this app's answer:
        # 502, so that a 401 from Jira never reads as "you are not signed in here".
        raise HTTPException(502, detail=f"Jira answered {response.status_code} for this site.")
    return response.json()
