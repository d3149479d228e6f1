"""Session management: a person lists their sessions, ends one, or signs out other devices.

Every test runs on SQLite and on PostgreSQL (the ``db`` fixture), with people signing in
through the emulator from browsers of their own (own cookie jar, client address and user agent).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx2
import pytest
from fastapi import FastAPI

from kavach_fastapi import CurrentUser, KavachRouter, User, kavach_router
from kavach_fastapi.crypto import hash_token
from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser
from kavach_fastapi.testing import emulator_provider, emulator_transport

from ..databases import TestDatabase, ago
from ..security.conftest import browser, running, session_cookie, sign_in
from .conftest import PREFIX, SECRET, database_url

SESSIONS = f"{PREFIX}/auth/sessions"
SESSION = f"{PREFIX}/auth/session"

LAPTOP = ("198.51.100.7", 50000)
PHONE = ("2001:db8:abcd:12::1", 50000)
TABLET = ("203.0.113.200", 50000)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Version/18.1 Mobile Safari/604.1"

FIELDS = {"id", "current", "created_at", "last_used_at", "expires_at", "user_agent", "network"}


@pytest.fixture
def emulator() -> AtlassianEmulator:
    return AtlassianEmulator()


@pytest.fixture
def router(db: TestDatabase, emulator: AtlassianEmulator) -> KavachRouter:
    return kavach_router(
        [emulator_provider(emulator)],
        database_url=database_url(db),
        secret=SECRET,
        rate_limit=0,
        http_transport=emulator_transport(emulator),
    )


@pytest.fixture
async def app(router: KavachRouter) -> AsyncIterator[FastAPI]:
    app = FastAPI()
    app.include_router(router, prefix=PREFIX)

    @app.get("/me")
    async def me(user: CurrentUser) -> User:
        return user

    async with running(app):
        yield app


@pytest.fixture
async def devices(app: FastAPI) -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def signed_in(
    stack: AsyncExitStack,
    app: FastAPI,
    emulator: AtlassianEmulator,
    *,
    address: tuple[str, int] = LAPTOP,
    user_agent: str = FIREFOX,
    user: EmulatedUser | None = None,
) -> httpx2.AsyncClient:
    """A new browser, signed in as ``user`` (Ada by default)."""
    client = await stack.enter_async_context(browser(app, address=address))
    client.headers["User-Agent"] = user_agent
    await sign_in(client, emulator, user=user)
    return client


async def ada_on_three_devices(
    stack: AsyncExitStack, app: FastAPI, emulator: AtlassianEmulator
) -> tuple[httpx2.AsyncClient, httpx2.AsyncClient, httpx2.AsyncClient]:
    """Ada signed in on her phone, her tablet and (last) her laptop."""
    phone = await signed_in(stack, app, emulator, address=PHONE)
    tablet = await signed_in(stack, app, emulator, address=TABLET)
    return phone, tablet, await signed_in(stack, app, emulator)


async def listed(client: httpx2.AsyncClient) -> list[dict[str, object]]:
    response = await client.get(SESSIONS)
    assert response.status_code == 200, response.text
    sessions: list[dict[str, object]] = response.json()
    return sessions


async def current_id(client: httpx2.AsyncClient) -> str:
    (mine,) = [session for session in await listed(client) if session["current"]]
    return str(mine["id"])


async def test_a_person_sees_each_of_their_sessions_the_current_one_first_and_marked(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator
) -> None:
    phone = await signed_in(devices, app, emulator, address=PHONE, user_agent=SAFARI)
    laptop = await signed_in(devices, app, emulator)
    assert (await phone.get("/me")).status_code == 200  # the phone was used last

    sessions = await listed(laptop)

    assert [session["current"] for session in sessions] == [True, False]
    this, other = sessions
    assert set(this) == FIELDS
    assert (this["user_agent"], this["network"]) == (FIREFOX, "198.51.100.0/24")
    assert (other["user_agent"], other["network"]) == (SAFARI, "2001:db8:abcd::/48")
    for session in sessions:
        assert re.fullmatch(r"[0-9a-f]{32}", str(session["id"]))
        assert str(session["created_at"]) <= str(session["last_used_at"])
    assert [s["id"] for s in await listed(phone)] == [other["id"], this["id"]]


async def test_the_list_carries_neither_a_token_nor_its_hash(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator, db: TestDatabase
) -> None:
    laptop = await signed_in(devices, app, emulator)
    token = session_cookie(laptop)
    assert token is not None

    response = await laptop.get(SESSIONS)

    assert token not in response.text
    assert hash_token(token) not in response.text
    (row,) = db.records("kavach_sessions")
    assert row["public_id"] == response.json()[0]["id"] != row["token_hash"]
    assert response.headers["cache-control"] == "no-store"


async def test_a_public_session_id_cannot_be_used_to_sign_in(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator
) -> None:
    laptop = await signed_in(devices, app, emulator)
    public_id = await current_id(laptop)

    async with browser(app) as stranger:
        as_bearer = await stranger.get("/me", headers={"Authorization": f"Bearer {public_id}"})
        stranger.cookies.set("kavach_session", public_id)
        as_cookie = await stranger.get("/me")

    assert as_bearer.status_code == as_cookie.status_code == 401


async def test_nobody_else_sees_a_persons_sessions(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator
) -> None:
    ada = await signed_in(devices, app, emulator)
    grace = await signed_in(devices, app, emulator, user=emulator.users[1], address=TABLET)

    ada_ids = {s["id"] for s in await listed(ada)}
    grace_ids = {s["id"] for s in await listed(grace)}

    assert len(ada_ids) == len(grace_ids) == 1
    assert ada_ids.isdisjoint(grace_ids)


async def test_ending_another_of_ones_sessions_signs_that_device_out_at_once(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator, db: TestDatabase
) -> None:
    phone = await signed_in(devices, app, emulator, address=PHONE, user_agent=SAFARI)
    laptop = await signed_in(devices, app, emulator)
    phone_id = await current_id(phone)
    assert (await phone.get("/me")).status_code == 200  # checked just now: in the cache

    response = await laptop.delete(f"{SESSIONS}/{phone_id}")

    assert response.status_code == 200, response.text
    assert response.json() == {"ended": 1, "signed_out": False}
    assert "set-cookie" not in response.headers
    assert (await phone.get("/me")).status_code == 401
    assert (await laptop.get("/me")).status_code == 200
    assert [s["id"] for s in await listed(laptop)] == [await current_id(laptop)]
    assert db.count("kavach_sessions") == 1


async def test_ending_the_current_session_signs_out_and_clears_the_cookie(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator, db: TestDatabase
) -> None:
    laptop = await signed_in(devices, app, emulator)
    token = session_cookie(laptop)

    response = await laptop.delete(f"{SESSIONS}/{await current_id(laptop)}")

    assert response.status_code == 200, response.text
    assert response.json() == {"ended": 1, "signed_out": True}
    assert "kavach_session=" in response.headers["set-cookie"]
    assert session_cookie(laptop) is None
    assert (
        await laptop.get(SESSION, headers={"Authorization": f"Bearer {token}"})
    ).status_code == 401
    assert db.count("kavach_sessions") == 0


async def test_another_persons_session_id_answers_exactly_like_an_unknown_one_and_ends_nothing(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator, db: TestDatabase
) -> None:
    ada = await signed_in(devices, app, emulator)
    grace = await signed_in(devices, app, emulator, user=emulator.users[1], address=TABLET)
    graces = await current_id(grace)
    before = db.records("kavach_sessions", order_by="public_id")

    someone_elses = await ada.delete(f"{SESSIONS}/{graces}")
    unknown = await ada.delete(f"{SESSIONS}/{'0' * 32}")
    malformed = await ada.delete(f"{SESSIONS}/not-a-session-id")

    for response in (someone_elses, unknown, malformed):
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "code": "unknown_session",
                "message": "That session is not one of yours, or it has already ended.",
            }
        }
    assert db.records("kavach_sessions", order_by="public_id") == before
    assert (await grace.get("/me")).status_code == 200


async def test_an_ended_session_leaves_the_list_and_cannot_be_ended_twice(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator
) -> None:
    phone = await signed_in(devices, app, emulator, address=PHONE)
    laptop = await signed_in(devices, app, emulator)
    phone_id = await current_id(phone)

    first = await laptop.delete(f"{SESSIONS}/{phone_id}")
    second = await laptop.delete(f"{SESSIONS}/{phone_id}")

    assert first.status_code == 200
    assert second.status_code == 404
    assert phone_id not in {s["id"] for s in await listed(laptop)}


async def test_signing_out_other_devices_keeps_the_current_session_and_other_people(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator, db: TestDatabase
) -> None:
    phone, tablet, laptop = await ada_on_three_devices(devices, app, emulator)
    grace = await signed_in(devices, app, emulator, user=emulator.users[1])
    for client in (phone, tablet, grace):
        assert (await client.get("/me")).status_code == 200

    response = await laptop.delete(SESSIONS)

    assert response.status_code == 200, response.text
    assert response.json() == {"ended": 2, "signed_out": False}
    assert "set-cookie" not in response.headers
    assert (await phone.get("/me")).status_code == 401
    assert (await tablet.get("/me")).status_code == 401
    assert (await laptop.get("/me")).status_code == 200
    assert (await grace.get("/me")).status_code == 200
    assert [s["current"] for s in await listed(laptop)] == [True]
    assert db.count("kavach_sessions") == 2


async def test_signing_out_other_devices_with_none_ends_nothing(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator
) -> None:
    laptop = await signed_in(devices, app, emulator)

    response = await laptop.delete(SESSIONS)

    assert response.json() == {"ended": 0, "signed_out": False}
    assert (await laptop.get("/me")).status_code == 200


async def test_an_api_client_manages_sessions_with_its_bearer_token(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator
) -> None:
    laptop = await signed_in(devices, app, emulator)
    token = session_cookie(laptop)
    laptop_id = await current_id(laptop)
    phone = await signed_in(devices, app, emulator, address=PHONE)

    async with browser(app) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        sessions = (await api.get(SESSIONS)).json()
        ended = await api.delete(SESSIONS)

    assert (sessions[0]["id"], sessions[0]["current"]) == (laptop_id, True)
    assert ended.json() == {"ended": 1, "signed_out": False}
    assert (await phone.get("/me")).status_code == 401


async def test_expired_and_idle_sessions_are_not_listed(
    app: FastAPI, devices: AsyncExitStack, emulator: AtlassianEmulator, db: TestDatabase
) -> None:
    phone, tablet, laptop = await ada_on_three_devices(devices, app, emulator)
    phone_id, tablet_id = await current_id(phone), await current_id(tablet)
    db.execute(
        "UPDATE kavach_sessions SET expires_at = :at WHERE public_id = :id",
        at=ago(seconds=1),
        id=phone_id,
    )
    db.execute(
        "UPDATE kavach_sessions SET last_active_at = :at WHERE public_id = :id",
        at=ago(days=30),
        id=tablet_id,
    )

    assert [s["current"] for s in await listed(laptop)] == [True]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", SESSIONS), ("DELETE", SESSIONS), ("DELETE", f"{SESSIONS}/{'0' * 32}")],
)
async def test_the_session_endpoints_need_a_signed_in_person(
    app: FastAPI, method: str, path: str
) -> None:
    async with browser(app) as nobody:
        response = await nobody.request(method, path)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_signed_in"


async def test_an_admin_signs_a_user_out_everywhere_in_one_call(
    app: FastAPI,
    router: KavachRouter,
    devices: AsyncExitStack,
    emulator: AtlassianEmulator,
    db: TestDatabase,
) -> None:
    phone = await signed_in(devices, app, emulator, address=PHONE)
    laptop = await signed_in(devices, app, emulator)
    grace = await signed_in(devices, app, emulator, user=emulator.users[1])
    ada_id = (await laptop.get("/me")).json()["id"]
    assert (await phone.get("/me")).status_code == 200

    ended = await router.kavach.end_user_sessions(ada_id)
    again = await router.kavach.sessions.end_user_sessions(ada_id)

    assert (ended, again) == (2, 0)
    assert (await phone.get("/me")).status_code == 401
    assert (await laptop.get("/me")).status_code == 401
    assert (await grace.get("/me")).status_code == 200
    assert db.count("kavach_users") == 2, "the user stays"
    assert db.count("kavach_accounts") == 2, "and so does their grant"
