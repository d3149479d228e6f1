"""No duplicate writes on retry: a POST that may have reached Jira is never sent again.

``AtlassianClient`` retries what is safe to retry. ``GET``, ``PUT``, ``DELETE`` (idempotent) are
sent again after a timeout or a lost connection. ``POST`` and ``PATCH`` are sent again only when
Jira cannot have acted on them: the connection failed, or Jira answered ``429`` with
``Retry-After``. A ``POST`` that Jira applied but answered too late, or whose answer was lost, is
sent once, and the app hears ``503`` with a message that says the change may have been made.

Jira's issue endpoints are played by :class:`IssueTracker`, a transport in front of the emulator
that creates issues and misbehaves as each test scripts it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx2
import pytest
from fastapi.responses import JSONResponse

from kavach_fastapi import AtlassianAPI
from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import build_app, error_code
from .jira_calls import jira_site, signed_in_with_sites

DEADLINE = 0.5
"""``KAVACH_HTTP_TIMEOUT`` of the app, in seconds."""

ISSUES = "/rest/api/3/issue"


class IssueTracker(httpx2.AsyncBaseTransport):
    """Jira's issue endpoints for the emulator's sites; everything else goes to the emulator.

    ``script`` says how each next call to an issue endpoint goes: ``"ok"`` (the default),
    ``"late"`` (applied, then answered after the deadline), ``"lost"`` (applied, then the
    connection drops before the answer), ``"failing"`` (applied, then answered ``503``),
    ``"unreachable"`` (the connection fails: nothing arrives) or ``"limited"`` (``429`` with
    ``Retry-After: 0``: refused, nothing applied).
    """

    def __init__(self, emulator: AtlassianEmulator) -> None:
        self.emulator = emulator
        self.inner = httpx2.ASGITransport(app=emulator.app)
        self.script: list[str] = []
        self.sent: list[str] = []
        """The method of every request that left for an issue endpoint."""
        self.created: list[str] = []
        """The summary of every issue created."""
        self._keys = itertools.count(1)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if ISSUES not in request.url.path:
            return await self.inner.handle_async_request(request)
        self.sent.append(request.method)
        how = self.script.pop(0) if self.script else "ok"
        if how == "unreachable":
            raise httpx2.ConnectError("connection refused", request=request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.emulator.grants.authenticate(token) is None:
            return httpx2.Response(401, json={"code": 401, "message": "Unauthorized"})
        if how == "limited":
            return httpx2.Response(429, headers={"Retry-After": "0"}, json={"message": "slow"})
        answer = self._apply(request)
        if how == "failing":
            return httpx2.Response(503, json={"message": "try later"})
        if how == "late":
            await asyncio.sleep(DEADLINE * 4)
        if how == "lost":
            raise httpx2.ReadError("connection reset by peer", request=request)
        return answer

    def _apply(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            self.created.append(request.read().decode())
            return httpx2.Response(201, json={"key": f"KAV-{next(self._keys)}"})
        return httpx2.Response(200, json={"key": request.url.path.rsplit("/", 1)[-1]})


@pytest.fixture
def jira(emulator: AtlassianEmulator) -> IssueTracker:
    return IssueTracker(emulator)


@pytest.fixture
async def client(
    database: Path, emulator: AtlassianEmulator, jira: IssueTracker
) -> AsyncIterator[httpx2.AsyncClient]:
    app = build_app(database, emulator, http_transport=jira, http_timeout=DEADLINE)

    @app.post("/jira/{cloud_id}/issues")
    async def create_issue(cloud_id: str, api: AtlassianAPI) -> JSONResponse:
        response = await api.post("jira", cloud_id, ISSUES, json={"summary": "Printer on fire"})
        return JSONResponse(response.json(), status_code=response.status_code)

    @app.patch("/jira/{cloud_id}/issues/{key}")
    async def edit_issue(cloud_id: str, key: str, api: AtlassianAPI) -> JSONResponse:
        response = await api.patch(
            "jira", cloud_id, ISSUES + "/{key}", path_params={"key": key}, json={"summary": "x"}
        )
        return JSONResponse(response.json(), status_code=response.status_code)

    @app.get("/jira/{cloud_id}/issues/{key}")
    async def read_issue(cloud_id: str, key: str, api: AtlassianAPI) -> JSONResponse:
        response = await api.get("jira", cloud_id, ISSUES + "/{key}", path_params={"key": key})
        return JSONResponse(response.json(), status_code=response.status_code)

    async with signed_in_with_sites(app, emulator) as signed_in:
        yield signed_in


CallJira = Callable[..., Awaitable[httpx2.Response]]
"""``call_jira(method, how, key=None)``: script Jira's next answer, then call the app's route."""


@pytest.fixture
def call_jira(
    client: httpx2.AsyncClient, emulator: AtlassianEmulator, jira: IssueTracker
) -> CallJira:
    async def call(method: str, how: str, key: str | None = None) -> httpx2.Response:
        jira.script = [how]
        path = f"/jira/{jira_site(emulator)}/issues" + (f"/{key}" if key else "")
        return await client.request(method, path)

    return call


async def post_applied_once(
    call_jira: CallJira, jira: IssueTracker, how: str, *, status: int
) -> httpx2.Response:
    """Create an issue with Jira answering ``how``: the app answers ``status``, one issue made."""
    answer = await call_jira("POST", how)
    assert answer.status_code == status, answer.text
    assert len(jira.created) == 1
    return answer


@pytest.mark.parametrize("how", ["late", "lost"])
async def test_a_post_that_jira_may_have_applied_is_sent_exactly_once(
    call_jira: CallJira, jira: IssueTracker, how: str
) -> None:
    answer = await post_applied_once(call_jira, jira, how, status=503)

    assert error_code(answer) == "provider_unavailable"
    assert "may have been made" in answer.json()["error"]["message"]
    assert jira.sent == ["POST"]


async def test_a_patch_that_jira_may_have_applied_is_sent_exactly_once(
    call_jira: CallJira, jira: IssueTracker
) -> None:
    answer = await call_jira("PATCH", "lost", "KAV-7")

    assert answer.status_code == 503, answer.text
    assert jira.sent == ["PATCH"]


@pytest.mark.parametrize("how", ["late", "lost"])
async def test_a_get_whose_answer_was_late_or_lost_is_retried(
    call_jira: CallJira, jira: IssueTracker, how: str
) -> None:
    answer = await call_jira("GET", how, "KAV-7")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"key": "KAV-7"}
    assert jira.sent == ["GET", "GET"]


@pytest.mark.parametrize("how", ["unreachable", "limited"])
async def test_a_post_that_cannot_have_reached_jira_is_retried_and_applied_once(
    call_jira: CallJira, jira: IssueTracker, how: str
) -> None:
    await post_applied_once(call_jira, jira, how, status=201)

    assert jira.sent == ["POST", "POST"]


async def test_a_post_answered_with_a_server_error_is_returned_not_repeated(
    call_jira: CallJira, jira: IssueTracker
) -> None:
    answer = await post_applied_once(call_jira, jira, "failing", status=503)

    assert answer.json() == {"message": "try later"}  # Jira's answer, for the app to judge
    assert jira.sent == ["POST"]
