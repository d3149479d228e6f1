"""The app's own routes answer the package's errors as the router does, from one edge.

FastAPI gives a router no way to bring exception handlers; the router's lifespan installs one
for ``KavachError`` without rebuilding the app's middleware (which would build the app's own
middleware a second time), and adds ``reauth_url`` when it renders a ``reauth_required``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from kavach_fastapi import CurrentUser, ReauthRequiredError
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.runtime import running_in
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in
from tests.support.apps import build_app

PREFIX = "/api/kavach"
SECRET = "edge-test-secret-0123456789-abcdefghijklmnop"


class CountingMiddleware:
    """An app's middleware that counts how often it is built."""

    built = 0

    def __init__(self, app: ASGIApp) -> None:
        type(self).built += 1
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class HidingMiddleware:
    """A middleware that keeps the app it wraps under another name."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner(scope, receive, send)


RAISED: list[ReauthRequiredError] = []


def build(tmp_path: Path, emulator: AtlassianEmulator, *middleware: Any) -> FastAPI:
    app = build_app(
        [emulator_provider(emulator)],
        database_url=f"sqlite:///{tmp_path}/kavach.db",
        secret=SECRET,
        http_transport=emulator_transport(emulator),
        rate_limit=0,
    )
    for cls in middleware:
        app.add_middleware(cls)

    @app.get("/gone")
    async def gone(user: CurrentUser) -> None:
        error = ReauthRequiredError()
        RAISED.append(error)
        raise error

    return app


def test_an_app_route_answers_not_signed_in_with_the_package_json_error(tmp_path: Path) -> None:
    with TestClient(build(tmp_path, AtlassianEmulator())) as client:
        answer = client.get("/me")
    assert answer.status_code == 401
    assert answer.json() == {"error": {"code": "not_signed_in", "message": "Sign in to continue."}}
    assert answer.headers["www-authenticate"] == 'Bearer realm="kavach"'


def test_installing_the_handler_builds_the_apps_middleware_once(tmp_path: Path) -> None:
    CountingMiddleware.built = 0
    with TestClient(build(tmp_path, AtlassianEmulator(), CountingMiddleware)) as client:
        assert client.get("/me").status_code == 401
        assert client.get("/me").json()["error"]["code"] == "not_signed_in"
    assert CountingMiddleware.built == 1


def test_a_middleware_that_hides_the_app_still_gets_the_json_error(tmp_path: Path) -> None:
    with TestClient(build(tmp_path, AtlassianEmulator(), HidingMiddleware)) as client:
        answer = client.get("/me")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_signed_in"


def test_reauth_url_is_added_as_the_error_is_answered_and_the_error_is_left_alone(
    tmp_path: Path,
) -> None:
    emulator = AtlassianEmulator()
    RAISED.clear()
    with TestClient(build(tmp_path, emulator), follow_redirects=False) as client:
        sign_in(client, emulator)
        answer = client.get("/gone")
    assert answer.status_code == 401
    body = answer.json()["error"]
    assert body["code"] == "reauth_required"
    assert body["reauth_url"] == f"http://testserver{PREFIX}/auth/oauth/authorize/atlassian"
    (raised,) = RAISED
    assert raised.reauth_url is None


def test_an_app_that_did_not_run_the_lifespan_is_told_how_to_start_it(tmp_path: Path) -> None:
    client = TestClient(build(tmp_path, AtlassianEmulator()), follow_redirects=False)
    answer = client.get(f"{PREFIX}/auth/oauth/authorize/atlassian")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "not_configured"
    assert "lifespan" in answer.json()["error"]["message"]


def test_an_app_route_of_an_app_that_did_not_run_the_lifespan_is_told_in_json_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing of the package is installed on the app yet: FastAPI answers it by itself.
    client = TestClient(build(tmp_path, AtlassianEmulator()), raise_server_exceptions=False)
    with caplog.at_level(logging.DEBUG):
        answer = client.get("/me")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert "lifespan" in answer.json()["detail"]
    assert not [record for record in caplog.records if record.exc_info]


def test_the_app_knows_its_kavach_while_its_lifespan_runs_and_forgets_it_after(
    tmp_path: Path,
) -> None:
    app = build(tmp_path, AtlassianEmulator())
    assert running_in(app) is None
    with TestClient(app):
        kavach = running_in(app)
        assert kavach is not None
        assert app.state.kavach is kavach
    assert running_in(app) is None
    assert app.state.kavach is None
