"""Fault injection: latency, error statuses, rate limits, broken JSON, missing tokens."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest

from kavach_fastapi.emulator import AtlassianEmulator, EmulatorClock, Fault, Faults
from kavach_fastapi.emulator.faults import RATE_LIMIT_REASONS

from .flow import Flow, flow_for


async def test_status_fault_answers_the_status_with_retry_after(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("refresh", Fault("status", status=503, retry_after=7))

    response = await flow.refresh(tokens["refresh_token"])

    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"] == "temporarily_unavailable"


async def test_status_fault_on_api_endpoint_uses_api_error_shape(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("me", Fault("status", status=500))

    response = await flow.me(tokens["access_token"])

    assert response.status_code == 500
    assert response.json() == {"code": 500, "message": "Internal Server Error"}
    assert "retry-after" not in response.headers


async def test_rate_limit_fault_sends_atlassians_header_set() -> None:
    emu = AtlassianEmulator(
        clock=EmulatorClock(datetime(2030, 5, 17, 9, 41, 30, tzinfo=timezone.utc))
    )
    async with flow_for(emu) as flow:
        tokens = await flow.sign_in()
        emu.faults.add("jira_myself", Fault("rate_limit", retry_after=45))

        response = await flow.get(flow.jira_myself_path(emu.sites[0].id), tokens["access_token"])

    assert response.status_code == 429
    assert response.headers["retry-after"] == "45"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-limit"]) > 0
    # The request's time plus Retry-After, in Atlassian's yyyy-MM-ddTHH:mmZ.
    assert response.headers["x-ratelimit-reset"] == "2030-05-17T09:42Z"
    assert response.headers["ratelimit-reason"] == "jira-burst-based"
    assert "x-ratelimit-nearlimit" not in response.headers


@pytest.mark.parametrize("reason", ["jira-quota-global-based", "jira-quota-tenant-based"])
async def test_a_quota_rate_limit_also_says_it_is_near_the_limit(flow: Flow, reason: str) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("me", Fault("rate_limit", reason=reason))  # type: ignore[arg-type]

    response = await flow.me(tokens["access_token"])

    assert response.status_code == 429
    assert response.headers["ratelimit-reason"] == reason
    assert response.headers["x-ratelimit-nearlimit"] == "true"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", response.headers["x-ratelimit-reset"])


def test_rate_limit_reasons_are_atlassians() -> None:
    assert RATE_LIMIT_REASONS == (
        "jira-quota-global-based",
        "jira-quota-tenant-based",
        "jira-burst-based",
        "jira-per-issue-on-write",
    )
    with pytest.raises(ValueError, match="RateLimit-Reason"):
        Fault("rate_limit", reason="too-many")  # type: ignore[arg-type]


async def test_malformed_json_fault_answers_200_with_a_broken_body(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("accessible_resources", Fault("malformed_json"))

    response = await flow.get("/oauth/token/accessible-resources", tokens["access_token"])

    assert response.status_code == 200
    with pytest.raises(ValueError, match=r"."):
        response.json()


async def test_faults_apply_before_normal_handling(flow: Flow) -> None:
    code = await flow.code()
    flow.emu.faults.add("authorization_code", Fault("status", status=502, times=1))

    failed = await flow.exchange(code)
    retried = await flow.exchange(code)

    assert failed.status_code == 502
    assert retried.status_code == 200


async def test_no_refresh_token_fault(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("refresh", Fault("no_refresh_token", times=1))

    bare = await flow.refresh(tokens["refresh_token"])
    bare_me = await flow.me(bare.json()["access_token"])
    again = await flow.refresh(tokens["refresh_token"])

    assert bare.status_code == 200
    assert "refresh_token" not in bare.json()
    assert bare_me.status_code == 200
    assert again.status_code == 200
    assert "refresh_token" in again.json()


async def test_no_refresh_token_fault_on_code_exchange(flow: Flow) -> None:
    flow.emu.faults.add("token", Fault("no_refresh_token", times=1))

    tokens = await flow.sign_in()

    assert "refresh_token" not in tokens


async def test_no_refresh_token_fault_waits_for_a_call_that_would_return_one(
    flow: Flow,
) -> None:
    flow.emu.faults.add("token", Fault("no_refresh_token", times=1))

    offline = await flow.sign_in(scope="read:me")
    tokens = await flow.sign_in()

    assert "refresh_token" not in offline
    assert "refresh_token" not in tokens
    assert flow.emu.faults.armed() == []


async def test_latency_fault_delays_then_answers_normally(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("me", Fault("latency", seconds=0.2, times=1))

    started = time.monotonic()
    response = await flow.me(tokens["access_token"])
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.2


async def test_fault_times_limits_how_often_it_applies(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("me", Fault("status", status=503, times=2))

    statuses = [(await flow.me(tokens["access_token"])).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


async def test_fault_without_times_applies_until_cleared(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("me", Fault("status", status=500))

    statuses = [(await flow.me(tokens["access_token"])).status_code for _ in range(3)]
    flow.emu.faults.clear()

    assert statuses == [500, 500, 500]
    assert (await flow.me(tokens["access_token"])).status_code == 200


async def test_token_fault_applies_to_every_grant_type(flow: Flow) -> None:
    tokens = await flow.sign_in()
    code = await flow.code()
    flow.emu.faults.add("token", Fault("status", status=500))

    assert (await flow.exchange(code)).status_code == 500
    assert (await flow.refresh(tokens["refresh_token"])).status_code == 500


async def test_grant_type_fault_spares_the_other_grant_type(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.faults.add("refresh", Fault("status", status=500))

    assert (await flow.exchange(await flow.code())).status_code == 200
    assert (await flow.refresh(tokens["refresh_token"])).status_code == 500


def test_fault_armed_twice_counts_its_uses_separately() -> None:
    faults = Faults()
    fault = Fault("status", status=503, times=1)
    faults.add("me", fault)
    faults.add("jira_myself", fault)

    assert faults.take(("me",), frozenset({"status"})) == [fault]
    assert faults.armed() == [("jira_myself", fault)]
    assert fault.times == 1


@pytest.mark.parametrize(
    ("endpoint", "fault", "message"),
    [
        ("nowhere", Fault("status", status=500), "unknown endpoint"),
        ("me", Fault("no_refresh_token"), "only to token endpoints"),
    ],
)
def test_faults_reject_nonsense(endpoint: str, fault: Fault, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults().add(endpoint, fault)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "arguments",
    [
        {"kind": "explode"},
        {"kind": "status", "status": 200},
        {"kind": "latency", "seconds": -1},
        {"kind": "status", "times": 0},
    ],
)
def test_fault_rejects_invalid_settings(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by argument
        Fault(**arguments)  # type: ignore[arg-type]


def test_rate_limit_fault_defaults() -> None:
    fault = Fault("rate_limit")

    assert fault.status == 429
    assert fault.retry_after == 1
    assert fault.times is None
