"""serve() on a real loopback socket, the pytest plugin's fixtures, and the clock."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

import httpx2
import pytest

from kavach_fastapi.emulator import AtlassianEmulator, EmulatorClock

from .flow import Flow, flow_for, query_of


def test_serve_runs_on_a_real_loopback_socket() -> None:
    emu = AtlassianEmulator(auto_consent=True)
    app = emu.default_client
    with emu.serve() as base_url, httpx2.Client(base_url=base_url) as client:
        assert urlsplit(base_url).hostname == "127.0.0.1"
        params = {
            "audience": "api.atlassian.com",
            "client_id": app.client_id,
            "scope": "read:me offline_access",
            "redirect_uri": app.redirect_uris[0],
            "state": "s",
            "response_type": "code",
        }
        consent = client.get("/authorize?" + urlencode(params))
        code = query_of(consent.headers["location"])["code"]
        tokens = client.post(
            "/oauth/token",
            json={
                "grant_type": "authorization_code",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "code": code,
                "redirect_uri": app.redirect_uris[0],
            },
        ).json()
        me = client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})

    assert consent.status_code == 302
    assert me.status_code == 200
    assert me.json()["picture"].startswith(f"{base_url}/avatars/")
    assert emu.calls["me"] == 1


def test_serve_stops_cleanly() -> None:
    emu = AtlassianEmulator()
    with emu.serve() as base_url:
        port = urlsplit(base_url).port
        assert port is not None

    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


def test_two_emulators_serve_side_by_side() -> None:
    with AtlassianEmulator().serve() as first, AtlassianEmulator().serve() as second:
        assert first != second
        assert httpx2.get(first + "/").status_code == 200
        assert httpx2.get(second + "/").status_code == 200


def test_atlassian_emulator_url_fixture_serves_the_emulator(
    atlassian_emulator: AtlassianEmulator, atlassian_emulator_url: str
) -> None:
    response = httpx2.get(f"{atlassian_emulator_url}/me")

    assert response.status_code == 401
    assert atlassian_emulator.calls["me"] == 1


async def test_atlassian_emulator_transport_fixture_reaches_the_emulator(
    atlassian_emulator: AtlassianEmulator,
    atlassian_emulator_transport: httpx2.ASGITransport,
) -> None:
    async with httpx2.AsyncClient(
        transport=atlassian_emulator_transport, base_url="http://emulator"
    ) as client:
        tokens = await Flow(atlassian_emulator, client).sign_in()

    assert atlassian_emulator.calls["token"] == 1
    assert tokens["token_type"] == "Bearer"


def test_atlassian_emulator_fixture_is_fresh_per_test(
    atlassian_emulator: AtlassianEmulator,
) -> None:
    assert atlassian_emulator.calls["authorize"] == 0
    assert atlassian_emulator.default_client.client_id == "kavach-demo-client"
    assert atlassian_emulator.default_client.client_secret == "kavach-demo-secret"


def test_pytest_plugin_imports_cheaply() -> None:
    code = (
        "import sys, kavach_fastapi.emulator.pytest_plugin as plugin; "
        "heavy = [m for m in ('uvicorn', 'kavach_fastapi.emulator.emulator') "
        "if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == "[]"


def test_clock_follows_wall_time_plus_advances() -> None:
    clock = EmulatorClock()
    before = datetime.now(timezone.utc)

    clock.advance(timedelta(days=2))

    assert clock.now() - before >= timedelta(days=2)
    assert clock.now().tzinfo is not None
    assert not clock.frozen


def test_frozen_clock_moves_only_when_advanced() -> None:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
    clock = EmulatorClock(start)

    assert clock.now() == start
    clock.advance(timedelta(minutes=10))
    assert clock.now() == start + timedelta(minutes=10)
    assert clock.frozen


def test_naive_start_is_taken_as_utc() -> None:
    clock = EmulatorClock(datetime(2030, 1, 1))

    assert clock.now() == datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_clock_never_runs_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        EmulatorClock().advance(timedelta(seconds=-1))


async def test_emulator_uses_the_given_clock() -> None:
    clock = EmulatorClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    emu = AtlassianEmulator(clock=clock, access_token_lifetime=timedelta(minutes=5))
    async with flow_for(emu) as flow:
        tokens = await flow.sign_in()
        clock.advance(timedelta(minutes=5))
        response = await flow.me(tokens["access_token"])

    assert emu.clock is clock
    assert tokens["expires_in"] == 300
    assert response.status_code == 401
