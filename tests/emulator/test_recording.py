"""What the emulator lets tests observe: call counters, last requests, logs."""

from __future__ import annotations

import logging

import httpx2
import pytest

from kavach_fastapi.emulator import AtlassianEmulator, Fault, RecordedRequest

from .flow import Flow


async def test_calls_count_each_endpoint(flow: Flow) -> None:
    assert dict(flow.emu.calls) == dict.fromkeys(flow.emu.calls, 0)
    tokens = await flow.sign_in()
    await flow.refresh(tokens["refresh_token"])
    await flow.refresh(tokens["refresh_token"])
    await flow.me("whatever")
    await flow.get("/oauth/token/accessible-resources", None)
    await flow.get(flow.jira_myself_path("x"), None)

    assert flow.emu.calls["authorize"] == 1
    assert flow.emu.calls["decision"] == 1
    assert flow.emu.calls["token"] == 3
    assert flow.emu.calls["authorization_code"] == 1
    assert flow.emu.calls["refresh"] == 2
    assert flow.emu.calls["me"] == 1
    assert flow.emu.calls["accessible_resources"] == 1
    assert flow.emu.calls["jira_myself"] == 1


async def test_calls_can_be_reset(flow: Flow) -> None:
    await flow.me(None)

    flow.emu.calls.reset()

    assert flow.emu.calls["me"] == 0


async def test_faulted_calls_are_counted(flow: Flow) -> None:
    flow.emu.faults.add("me", Fault("status", status=503))

    await flow.me(None)

    assert flow.emu.calls["me"] == 1


async def test_last_request_records_body_and_lower_case_headers(flow: Flow) -> None:
    code = await flow.code()

    await flow.exchange(code, as_json=False)

    recorded = flow.emu.last_request["token"]
    assert isinstance(recorded, RecordedRequest)
    assert recorded.method == "POST"
    assert recorded.path == "/oauth/token"
    assert recorded.headers["content-type"] == "application/x-www-form-urlencoded"
    assert recorded.form["grant_type"] == "authorization_code"
    assert recorded.form["code"] == code
    assert flow.emu.last_request["authorization_code"] == recorded
    authorize = flow.emu.last_request["authorize"]
    assert authorize.query["client_id"] == flow.emu.default_client.client_id
    assert authorize.query["audience"] == "api.atlassian.com"


async def test_json_values_are_recorded_as_strings(flow: Flow) -> None:
    await flow.client.post("/oauth/token", json={"grant_type": "x", "n": 3, "flag": True})

    assert flow.emu.last_request["token"].form == {"grant_type": "x", "n": "3", "flag": "true"}


async def test_logs_never_contain_tokens_or_secrets(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = await flow.code()
    tokens = (await flow.exchange(code)).json()
    rotated = (await flow.refresh(tokens["refresh_token"])).json()
    await flow.exchange(code)
    flow.emu.revoke_grant(flow.emu.users[0].account_id)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "grant" in logged
    secrets = [
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        flow.emu.default_client.client_secret,
    ]
    for secret in secrets:
        assert secret not in logged


async def test_emulators_do_not_share_state() -> None:
    first, second = AtlassianEmulator(), AtlassianEmulator()
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=first.app), base_url="http://emulator"
    ) as client:
        tokens = await Flow(first, client).sign_in()
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=second.app), base_url="http://emulator"
    ) as client:
        response = await Flow(second, client).me(tokens["access_token"])

    assert response.status_code == 401
    assert first.calls["token"] == 1
    assert second.calls["token"] == 0
    assert first.default_client is not second.default_client
    assert first.users[0] is not second.users[0]
