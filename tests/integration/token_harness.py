"""An app signed in against the Atlassian emulator, for the tests of provider tokens.

The app is built like a user's (``tests.support.apps``): the router at ``/api/kavach`` and the
user routes, ``/token``, ``/sites``, ``/jira/...`` among them. The emulator answers every call to
Atlassian in-process (its ASGI app as the transport), so the tests can count the refreshes it saw,
arm faults and move its clock. Helpers read and change the account rows behind the app's back,
through :class:`~tests.databases.TestDatabase`, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
from fastapi import FastAPI

from kavach_fastapi import (
    KavachRouter,
    atlassian_provider,
    kavach_router,
)
from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser, Fault
from kavach_fastapi.tables import utcnow

from ..databases import TestDatabase
from ..support import browser
from ..support.apps import app_with
from ..support.database_outages import statements_fail
from .conftest import AUTHORIZE, PREFIX, SECRET

EMULATOR = "http://emulator"
"""Where the app believes Atlassian is; the emulator's ASGI transport answers it."""

APP = "http://testserver"
SESSION = f"{PREFIX}/auth/session"
REAUTH_URL = f"{APP}{AUTHORIZE}"
OTHER_SECRET = "second-secret-abcdefghijklmnopqrstuvwxyz-0123"

ACCOUNTS = "kavach_accounts"


@dataclass(frozen=True)
class Seen:
    """One call the app made to Atlassian, as the transport saw it."""

    at: float
    path: str
    status: int


@dataclass
class RecordingTransport(httpx2.AsyncBaseTransport):
    """Passes calls to the emulator and notes when each was answered, and how."""

    inner: httpx2.AsyncBaseTransport
    seen: list[Seen] = field(default_factory=list)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.seen.append(Seen(time.monotonic(), request.url.path, response.status_code))
        return response

    def times(self, path: str) -> list[float]:
        """When calls to ``path`` were answered, in order."""
        return [item.at for item in self.seen if item.path == path]


@dataclass
class Harness:
    """An emulator, an app that uses it, and the app's database."""

    emu: AtlassianEmulator
    app: FastAPI
    router: KavachRouter
    transport: RecordingTransport
    database: TestDatabase


def build_harness(
    database: TestDatabase,
    emu: AtlassianEmulator | None = None,
    *,
    secret: str = SECRET,
    scopes: tuple[str, ...] = ("read:jira-user",),
    served_at: tuple[str, httpx2.AsyncBaseTransport] | None = None,
    **options: Any,
) -> Harness:
    """An app whose Atlassian is ``emu`` (a new emulator when not given).

    Args:
        database: the app's database.
        emu: the emulator.
        secret: ``KAVACH_SECRET``.
        scopes: extra scopes to request.
        served_at: the emulator's base URL on a real socket and a network transport (which
            the caller closes); in-process over ASGI when not given.
        options: more ``kavach_router`` options.
    """
    emu = emu if emu is not None else AtlassianEmulator()
    base, inner = served_at or (EMULATOR, httpx2.ASGITransport(app=emu.app))
    transport = RecordingTransport(inner)
    provider = atlassian_provider(
        emu.default_client.client_id,
        emu.default_client.client_secret,
        scopes=list(scopes),
        auth_url=base,
        api_url=base,
    )
    router = kavach_router(
        [provider],
        database_url=database.url,
        secret=secret,
        rate_limit=0,
        http_transport=transport,
        **options,
    )
    app = app_with(router)
    return Harness(emu, app, router, transport, database)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """Run the app's lifespan and give a client that talks to it in-process."""
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url=APP, follow_redirects=False
        ) as client,
    ):
        yield client


@asynccontextmanager
async def another_client(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """A second browser for an app whose lifespan already runs."""
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=APP, follow_redirects=False
    ) as client:
        yield client


async def sign_in(
    client: httpx2.AsyncClient,
    emu: AtlassianEmulator,
    *,
    user: EmulatedUser | None = None,
    site_ids: list[str] | None = None,
) -> str:
    """Sign in through the emulator's consent page; return the session token."""
    await browser.sign_in(client, emu, user=user, site_ids=site_ids)
    return str(client.cookies["kavach_session"])


@asynccontextmanager
async def signed_in(
    database: TestDatabase,
    emu: AtlassianEmulator | None = None,
    *,
    user: EmulatedUser | None = None,
    site_ids: list[str] | None = None,
    **options: Any,
) -> AsyncIterator[tuple[Harness, httpx2.AsyncClient]]:
    """A harness (``build_harness(database, emu, **options)``) running, and a browser signed in
    as ``user`` (the first person) with ``site_ids`` granted (every site)."""
    harness = build_harness(database, emu, **options)
    async with running(harness.app) as client:
        await sign_in(client, harness.emu, user=user, site_ids=site_ids)
        yield harness, client


@asynccontextmanager
async def ada_and_grace_signed_in(
    database: TestDatabase, emu: AtlassianEmulator | None = None, **options: Any
) -> AsyncIterator[tuple[Harness, httpx2.AsyncClient, httpx2.AsyncClient]]:
    """A harness running, and two browsers: the emulator's first person and its second."""
    harness = build_harness(database, emu, **options)
    async with running(harness.app) as ada, another_client(harness.app) as grace:
        await sign_in(ada, harness.emu, user=harness.emu.users[0])
        await sign_in(grace, harness.emu, user=harness.emu.users[1])
        yield harness, ada, grace


async def two_instances_ask_at_once(
    database: TestDatabase, emu: AtlassianEmulator, *, requests_each: int
) -> list[httpx2.Response]:
    """Two instances on one database ask for a token at once, just after it expired.

    A person signs in on the first; the second carries the same session as a bearer token. The
    refresh is slowed down, so the requests of both meet while it is in flight.
    """
    first, second = build_harness(database, emu), build_harness(database, emu)
    async with running(first.app) as one, running(second.app) as two:
        two.headers["Authorization"] = f"Bearer {await sign_in(one, emu)}"
        expire_access_token(database)
        emu.faults.add("refresh", Fault("latency", seconds=0.5, times=1))
        return list(
            await asyncio.gather(
                *(one.get("/token") for _ in range(requests_each)),
                *(two.get("/token") for _ in range(requests_each)),
            )
        )


async def token_of(client: httpx2.AsyncClient) -> str:
    """The access token the app hands its routes right now (asserting it could)."""
    response = await client.get("/token")
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def revoke_the_grant_that_worked(harness: Harness, client: httpx2.AsyncClient) -> None:
    """See the token work (a 200), then revoke the grant at Atlassian and age the token."""
    await token_of(client)
    harness.emu.revoke_grant(harness.emu.users[0].account_id)
    expire_access_token(harness.database)


# The database, behind the app's back


def from_now(**delta: float) -> datetime:
    """An aware UTC time relative to now (``seconds=-60``...), to store with ``update_account``."""
    return utcnow() + timedelta(**delta)


def accounts(database: TestDatabase) -> list[dict[str, Any]]:
    """Every account row, oldest first, as dictionaries of typed values."""
    return database.records(ACCOUNTS, order_by="created_at")


def the_account(database: TestDatabase) -> dict[str, Any]:
    """The only account row."""
    rows = accounts(database)
    assert len(rows) == 1, rows
    return rows[0]


def update_account(database: TestDatabase, account_id: str | None = None, **values: Any) -> None:
    """Set columns of one account row (the only one when ``account_id`` is not given)."""
    account_id = account_id or the_account(database)["id"]
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    database.execute(
        f"UPDATE {ACCOUNTS} SET {assignments} WHERE id = :account_id",  # noqa: S608
        **values,
        account_id=account_id,
    )


def expire_access_token(database: TestDatabase, account_id: str | None = None) -> None:
    """Make the stored access token look expired an hour ago."""
    update_account(database, account_id, access_token_expires_at=from_now(hours=-1))


def leave_a_dead_workers_lease(database: TestDatabase) -> None:
    """Age the token and leave the lease of a refresher that died, expired a second ago."""
    update_account(
        database,
        refresh_lease_owner="dead-host:4242:gone",
        refresh_lease_until=from_now(seconds=-1),
    )
    expire_access_token(database)


def emulator_tokens(emu: AtlassianEmulator) -> list[str]:
    """Every access and refresh token the emulator ever issued."""
    with emu.state.lock:
        return [*emu.state.access_tokens, *emu.state.refresh_tokens]


def live_refresh_tokens(emu: AtlassianEmulator) -> list[str]:
    """The emulator's refresh tokens that are neither retired nor revoked."""
    with emu.state.lock:
        return [
            record.token
            for record in emu.state.refresh_tokens.values()
            if record.retired_at is None and not record.revoked
        ]


def accepted_by_atlassian(emu: AtlassianEmulator, access_token: str) -> bool:
    """Whether the emulator would accept this access token now."""
    return emu.grants.authenticate(access_token) is not None


@contextmanager
def refreshed_tokens_fail_to_save(harness: Harness, *, times: int) -> Iterator[list[str]]:
    """The app's writes of refreshed tokens fail ``times`` times as if the database were
    locked past its busy timeout (which the app counts as unavailable, on either database).

    Yields the failed statements.
    """
    engine = harness.router.kavach.store.database.engine.sync_engine

    def is_save(statement: str) -> bool:
        setting, _, condition = statement.partition(" WHERE ")
        saves = setting.split()[:3] == ["UPDATE", ACCOUNTS, "SET"] and "access_token=" in setting
        return saves and "refresh_lease_owner" in condition

    with statements_fail(engine, is_save, times=times) as failed:
        yield failed
