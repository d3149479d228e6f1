"""POST /app/report-accounts/: Atlassian's personal-data reporting, as the emulator plays it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx2
import pytest

from kavach_fastapi.emulator import AtlassianEmulator, Fault

from .flow import Flow, flow_for

REPORT = "/app/report-accounts/"
ACTIVE = "5be24ad8b1653240376955d2"
CLOSED = "5be24ba3f91c106033269289"
LONG_AGO = "2020-01-01T00:00:00.000Z"


async def report(flow: Flow, accounts: list[dict[str, Any]], token: str | None) -> httpx2.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return await flow.client.post(REPORT, json={"accounts": accounts}, headers=headers)


def account(account_id: str, updated_at: str = LONG_AGO) -> dict[str, str]:
    return {"accountId": account_id, "updatedAt": updated_at}


async def test_atlassians_test_accounts_answer_as_documented(flow: Flow) -> None:
    token = (await flow.sign_in())["access_token"]

    response = await report(flow, [account(ACTIVE), account(CLOSED)], token)

    assert response.status_code == 200
    assert response.json() == {"accounts": [{"accountId": CLOSED, "status": "closed"}]}
    assert response.headers["cycle-period"] == "P7D"
    assert flow.emu.calls["report_accounts"] == 1


async def test_nothing_to_do_is_204_with_the_cycle_period(flow: Flow) -> None:
    token = (await flow.sign_in())["access_token"]

    response = await report(flow, [account(ACTIVE), account(flow.emu.users[0].account_id)], token)

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["cycle-period"] == "P7D"


async def test_accounts_a_test_closes_or_updates_are_answered_so(flow: Flow) -> None:
    ada, grace = flow.emu.users
    token = (await flow.sign_in())["access_token"]
    changed = datetime(2030, 3, 1, 12, 0, tzinfo=timezone.utc)
    flow.emu.privacy.close(ada.account_id)
    flow.emu.privacy.mark_updated(grace.account_id, at=changed)

    before = await report(
        flow, [account(ada.account_id), account(grace.account_id, "2030-03-01T11:59:59Z")], token
    )
    after = await report(flow, [account(grace.account_id, "2030-03-01T12:00:01.000Z")], token)

    assert before.json()["accounts"] == [
        {"accountId": ada.account_id, "status": "closed"},
        {"accountId": grace.account_id, "status": "updated"},
    ]
    assert after.status_code == 204


async def test_mark_updated_defaults_to_the_emulators_now(flow: Flow) -> None:
    grace = flow.emu.users[1]
    token = (await flow.sign_in())["access_token"]
    flow.emu.privacy.mark_updated(grace.account_id)
    just_before = (flow.emu.clock.now() - timedelta(seconds=1)).isoformat()

    response = await report(flow, [account(grace.account_id, just_before)], token)

    assert response.json()["accounts"] == [{"accountId": grace.account_id, "status": "updated"}]


async def test_at_most_90_accounts_per_call(flow: Flow) -> None:
    token = (await flow.sign_in())["access_token"]
    ninety = [account(f"557058:{index:036d}") for index in range(90)]

    accepted = await report(flow, ninety, token)
    refused = await report(flow, [*ninety, account(CLOSED)], token)

    assert accepted.status_code == 204
    assert refused.status_code == 400
    assert "90" in refused.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"accounts": "all"},
        {"accounts": [{"accountId": "", "updatedAt": LONG_AGO}]},
        {"accounts": [{"accountId": "a/b", "updatedAt": LONG_AGO}]},
        {"accounts": [{"accountId": ACTIVE, "updatedAt": "yesterday"}]},
        {"accounts": [{"accountId": ACTIVE}]},
        {"accounts": ["557058:x"]},
        {},
    ],
)
async def test_a_malformed_report_is_400(flow: Flow, body: dict[str, Any]) -> None:
    token = (await flow.sign_in())["access_token"]

    response = await flow.client.post(
        REPORT, json=body, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == 400


async def test_a_body_that_is_not_json_is_400(flow: Flow) -> None:
    token = (await flow.sign_in())["access_token"]

    response = await flow.client.post(
        REPORT,
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )

    assert response.status_code == 400


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_reporting_needs_a_live_access_token(flow: Flow, token: str | None) -> None:
    response = await report(flow, [account(CLOSED)], token)

    assert response.status_code == 401


async def test_a_429_carries_retry_after_through_the_faults(flow: Flow) -> None:
    token = (await flow.sign_in())["access_token"]
    flow.emu.faults.add("report_accounts", Fault("rate_limit", retry_after=30, times=1))

    limited = await report(flow, [account(CLOSED)], token)
    retried = await report(flow, [account(CLOSED)], token)

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "30"
    assert retried.status_code == 200
    assert flow.emu.calls["report_accounts"] == 2


async def test_the_cycle_period_is_configurable() -> None:
    emu = AtlassianEmulator(personal_data_cycle_period="P1D")
    async with flow_for(emu) as flow:
        token = (await flow.sign_in())["access_token"]
        first = await report(flow, [account(ACTIVE)], token)
        emu.privacy.cycle_period = "PT12H"
        second = await report(flow, [account(ACTIVE)], token)

    assert first.headers["cycle-period"] == "P1D"
    assert second.headers["cycle-period"] == "PT12H"


async def test_the_last_report_is_recorded_for_tests(flow: Flow) -> None:
    token = (await flow.sign_in())["access_token"]

    await report(flow, [account(ACTIVE)], token)

    recorded = flow.emu.last_request["report_accounts"]
    assert recorded.method == "POST"
    assert ACTIVE in recorded.form["accounts"]
