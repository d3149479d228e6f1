"""No token, client secret or session id in a response body, the OpenAPI schema or a log line.

A full life is played against the emulator: sign-in, the profile and sites, API calls that refresh
the access token every time (the stored token is aged behind the app's back before each), a
refresh that Atlassian answers 503 first, a grant revoked at Atlassian, a second consent, errors,
sign-out.
Every secret that existed along the way is then searched for, everywhere:

* every response body and header the browser got (except the ``Set-Cookie`` that carries the
  browser's own cookies, and the consent URL that must carry the state to Atlassian);
* the OpenAPI schema and the docs page;
* every log record at DEBUG and above, from every logger (the package, httpx2, httpcore2 when the
  package's own pooled transport talks to Atlassian over a socket, SQLAlchemy's driver...): the
  message, its arguments, any exception and stack.

The authorization code and state do appear in one place: the test browser's own request lines
(``HTTP Request: GET http://testserver/...callback?code=...``), which stand for the browser's
history and the ASGI server's access log; SECURITY.md lists that as a known limit.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fastapi import FastAPI

from kavach_fastapi.emulator import AtlassianEmulator, Fault
from tests.databases import TestDatabase
from tests.integration.token_harness import expire_access_token

from .conftest import (
    ACCOUNTS,
    AUTHORIZE,
    CALLBACK,
    PREFIX,
    PROVIDERS,
    SECRET,
    SESSION,
    SIGN_OUT,
    browser,
    build_app,
    running,
)


@dataclass
class Life:
    """What a full life of a signed-in person showed the browser, and the secrets it involved."""

    responses: list[httpx2.Response] = field(default_factory=list)
    states: set[str] = field(default_factory=set)
    session_tokens: set[str] = field(default_factory=set)
    bindings: set[str] = field(default_factory=set)
    verifiers: set[str] = field(default_factory=set)

    def secrets(self, emulator: AtlassianEmulator) -> dict[str, str]:
        """Every secret by a readable name; the one-time code and state are listed apart."""
        found: dict[str, str] = {
            "client secret": emulator.default_client.client_secret,
            "KAVACH_SECRET": SECRET,
        }
        for kind, values in (
            ("access token", emulator.state.access_tokens),
            ("refresh token", emulator.state.refresh_tokens),
            ("session token", self.session_tokens),
            ("browser binding", self.bindings),
            ("PKCE verifier", self.verifiers),
        ):
            for number, value in enumerate(sorted(values)):
                found[f"{kind} #{number}"] = value
        return found

    def one_time(self, emulator: AtlassianEmulator) -> dict[str, str]:
        """Authorization codes and states: secret too, but carried in the callback URL."""
        found = {f"code #{n}": code for n, code in enumerate(sorted(emulator.state.codes))}
        found.update({f"state #{n}": state for n, state in enumerate(sorted(self.states))})
        return found


@asynccontextmanager
async def recording(app: FastAPI, life: Life) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser whose every response (with its body) is kept in ``life``."""

    async def keep(response: httpx2.Response) -> None:
        await response.aread()
        life.responses.append(response)
        for name, value in response.cookies.items():
            if name.endswith("kavach_session") and value:
                life.session_tokens.add(value)
            if name.endswith("kavach_signin") and value:
                life.bindings.add(value)
        location = response.headers.get("location", "")
        if response.request.url.path == AUTHORIZE and location:
            life.states.update(parse_qs(urlsplit(location).query).get("state", []))

    async with browser(app) as client:
        client.event_hooks["response"].append(keep)
        yield client


async def sign_in_recorded(
    client: httpx2.AsyncClient, emulator: AtlassianEmulator, life: Life
) -> None:
    started = await client.get(AUTHORIZE, params={"redirect_to": "/after"})
    finished = await client.get(await emulator.approve(started.headers["location"]))
    assert finished.headers["location"] == "/after"
    life.verifiers.add(emulator.last_request["token"].form["code_verifier"])


async def live_a_full_life(
    app: FastAPI, emulator: AtlassianEmulator, life: Life, database: TestDatabase
) -> None:
    """Sign in, use everything (refreshing each time), fail in several ways, sign out."""
    async with recording(app, life) as client:
        await sign_in_recorded(client, emulator, life)
        cloud_id = emulator.sites[0].id
        for path in (SESSION, ACCOUNTS, PROVIDERS, "/me", "/sites", "/sites"):
            expire_access_token(database)
            assert (await client.get(path)).status_code == 200, path
        expire_access_token(database)
        assert (await client.get(f"/jira/{cloud_id}/myself")).status_code == 200
        emulator.faults.add("refresh", Fault("status", status=503, times=1))
        expire_access_token(database)
        assert (await client.get("/sites")).status_code == 200
        assert emulator.calls["refresh"] >= 4

        # Failures: a garbage bearer, a replayed and a declined callback asked as JSON.
        assert (await client.get("/me", headers={"Authorization": "Bearer x" * 3})).status_code
        replay = life.responses[1].request.url
        await client.get(str(replay), headers={"Accept": "application/json"})
        declined = await client.get(AUTHORIZE)
        await client.get(
            await emulator.decline(declined.headers["location"]),
            headers={"Accept": "application/json"},
        )
        await client.get(f"{PREFIX}/auth/oauth/callback/nope", params={"state": "s" * 43})

        # The person removes the app at Atlassian: the grant dies, then they consent again.
        assert emulator.revoke_grant(emulator.users[0].account_id) >= 1
        reauth = await client.get("/sites")
        assert reauth.status_code == 401
        assert reauth.json()["error"]["code"] == "reauth_required"
        await sign_in_recorded(client, emulator, life)
        assert (await client.get("/sites")).status_code == 200

        assert (await client.post(SIGN_OUT)).status_code == 200
        assert (await client.get(SESSION)).status_code == 401
        for path in ("/openapi.json", "/docs"):
            assert (await client.get(path)).status_code == 200


def visible_parts(response: httpx2.Response) -> str:
    """What a response shows beyond the browser's own cookies and the consent URL."""
    headers = [
        f"{name}: {value}"
        for name, value in response.headers.multi_items()
        if name != "set-cookie"
        and not (name == "location" and response.request.url.path == AUTHORIZE)
    ]
    return "\n".join([*headers, response.text])


def leaks(haystacks: dict[str, str], needles: dict[str, str]) -> list[str]:
    return [
        f"{needle_name} in {where}"
        for where, text in haystacks.items()
        for needle_name, needle in needles.items()
        if needle and needle in text
    ]


@contextmanager
def emulated_atlassian(emulator: AtlassianEmulator, over: str) -> Iterator[str | None]:
    """The emulator in-process (``None``), or served on a loopback socket (its URL)."""
    if over == "in-process":
        yield None
    else:
        with emulator.serve() as url:
            yield url


@asynccontextmanager
async def a_full_life(
    emulator: AtlassianEmulator, database: Path, side_door: TestDatabase, over: str
) -> AsyncIterator[tuple[FastAPI, Life]]:
    """An app (Atlassian reached ``over`` one way or the other) that has lived a full life."""
    life = Life()
    with emulated_atlassian(emulator, over) as url:
        app = build_app(database, emulator, atlassian_url=url, sites_cache_ttl=timedelta(0))
        async with running(app):
            await live_a_full_life(app, emulator, life, side_door)
            yield app, life


@pytest.mark.parametrize("over", ["in-process", "loopback-socket"])
async def test_no_secret_reaches_any_response_body_or_the_openapi_schema(
    emulator: AtlassianEmulator, database: Path, side_door: TestDatabase, over: str
) -> None:
    async with a_full_life(emulator, database, side_door, over) as (app, life):
        schema = str(app.openapi())

    secrets = {**life.secrets(emulator), **life.one_time(emulator)}
    assert len(life.session_tokens) == 2
    assert len(life.verifiers) == 2
    shown = {
        f"{r.request.method} {r.request.url.path} ({r.status_code})": visible_parts(r)
        for r in life.responses
    }
    assert leaks({**shown, "OpenAPI schema": schema}, secrets) == []
    assert not any(
        word in name.lower()
        for name in _property_names(app.openapi())
        for word in ("token", "secret", "verifier")
    )


def _property_names(schema: object) -> Iterator[str]:
    if isinstance(schema, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            yield from (str(name) for name in properties)
        for value in schema.values():
            yield from _property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _property_names(value)


def record_text(record: logging.LogRecord) -> str:
    """Everything a log handler could write for a record: message, arguments, exception, stack."""
    parts = [repr(vars(record))]
    with contextlib.suppress(TypeError, ValueError):  # a malformed record: its parts still count
        parts.append(record.getMessage())
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def is_the_browsers_own_request_line(record: logging.LogRecord) -> bool:
    """httpx2's line for a request the test browser made (to the app or the consent page)."""
    message = record.getMessage()
    return record.name == "httpx2" and message.startswith(
        ("HTTP Request: GET http://testserver/", "HTTP Request: GET http://emulator/authorize")
    )


@pytest.mark.parametrize("over", ["in-process", "loopback-socket"])
async def test_no_secret_reaches_any_log_line_at_any_level(
    emulator: AtlassianEmulator,
    database: Path,
    side_door: TestDatabase,
    caplog: pytest.LogCaptureFixture,
    over: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with a_full_life(emulator, database, side_door, over) as (_, life):
        pass

    records = caplog.records
    assert any(r.levelno == logging.DEBUG for r in records), "DEBUG records were captured"
    assert any(r.name == "kavach_fastapi" and r.levelno >= logging.WARNING for r in records)
    if over == "loopback-socket":
        assert any(r.name.startswith("httpcore2") for r in records), "the pooled transport logged"
    every_line = {f"#{n} {r.name} {r.levelname}": record_text(r) for n, r in enumerate(records)}
    app_lines = {
        f"#{n} {r.name} {r.levelname}": record_text(r)
        for n, r in enumerate(records)
        if not is_the_browsers_own_request_line(r)
    }
    assert leaks(every_line, life.secrets(emulator)) == []
    assert leaks(app_lines, life.one_time(emulator)) == []
    assert CALLBACK in "\n".join(r.getMessage() for r in records), "the browser's lines were seen"
