"""The emulator answers as Atlassian was recorded to answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedSite, EmulatedUser, Fault
from kavach_fastapi.emulator.endpoints import endpoint
from kavach_fastapi.emulator.faults import RATE_LIMIT_REASONS
from kavach_fastapi.emulator.products import product_of_scope

from ..emulator.flow import Flow, flow_for
from .recorded import recorded, shape_errors

ALL_SCOPES = (
    "read:me offline_access read:jira-user read:jira-work read:confluence-user "
    "read:space:confluence"
)


@pytest.fixture
async def flow(atlassian_emulator: AtlassianEmulator) -> AsyncIterator[Flow]:
    async with flow_for(atlassian_emulator) as driver:
        yield driver


async def signed_in(flow: Flow, scope: str = ALL_SCOPES) -> str:
    return str((await flow.sign_in(scope=scope))["access_token"])


# /me


async def test_me_has_the_recorded_shape(flow: Flow) -> None:
    answer = await flow.me(await signed_in(flow))

    shape = recorded("me")["shape"]
    assert answer.status_code == shape["status"]
    assert shape_errors(answer.json(), shape["body"]) == []


@pytest.mark.parametrize("account_id", recorded("me")["account_id_formats"]["examples"])
async def test_people_with_each_recorded_account_id_format_sign_in(account_id: str) -> None:
    hidden = EmulatedUser(account_id=account_id, name="Someone", email=None, email_verified=None)
    async with flow_for(AtlassianEmulator(users=[hidden])) as flow:
        answer = (await flow.me(await signed_in(flow))).json()

    assert answer["account_id"] == account_id
    assert "email" not in answer
    assert "email_verified" not in answer
    assert shape_errors(answer, recorded("me")["shape"]["body"]) == []


# accessible-resources


async def test_accessible_resources_have_the_recorded_shape(flow: Flow) -> None:
    answer = await flow.get("/oauth/token/accessible-resources", await signed_in(flow))

    shape = recorded("accessible_resources")["shape"]
    assert answer.status_code == shape["status"]
    assert answer.json()
    assert shape_errors(answer.json(), shape["body"]) == []


async def test_a_site_with_two_products_is_listed_as_recorded() -> None:
    variant = recorded("accessible_resources")["variants"][0]
    first, second = variant["body"]
    site = EmulatedSite(
        id=first["id"], name=first["name"], url=first["url"], products=("jira", "jira-servicedesk")
    )
    scope = " ".join(["read:me", *first["scopes"], *second["scopes"]])
    async with flow_for(AtlassianEmulator(sites=[site])) as flow:
        answer = (
            await flow.get("/oauth/token/accessible-resources", await signed_in(flow, scope))
        ).json()

    def entries(items: list[dict[str, Any]]) -> list[tuple[str, str, frozenset[str]]]:
        return [(item["id"], item["url"], frozenset(item["scopes"])) for item in items]

    assert entries(answer) == entries(variant["body"])


async def test_a_stray_site_fails_with_a_recorded_status(flow: Flow) -> None:
    statuses = recorded("accessible_resources")["stray_sites"]["statuses"]
    jira, wiki = flow.emu.sites
    token = str((await flow.sign_in(site_ids=[wiki.id]))["access_token"])
    flow.emu.faults.add("accessible_resources", Fault("unauthorised_site"))

    await flow.get("/oauth/token/accessible-resources", token)
    answer = await flow.get(flow.jira_myself_path(jira.id), token)

    assert answer.status_code in statuses


# The token endpoint


async def test_token_answers_have_the_recorded_shape(flow: Flow) -> None:
    shape = recorded("token")["answer"]
    exchanged = await flow.sign_in()
    refreshed = await flow.refresh(exchanged["refresh_token"])
    flow.emu.faults.add("refresh", Fault("no_refresh_token", times=1))
    bare = await flow.refresh(refreshed.json()["refresh_token"])

    for body in (exchanged, refreshed.json(), bare.json()):
        assert shape_errors(body, shape["body"]) == []
        assert not set(shape["forbidden"]) & set(body)
    assert "refresh_token" not in bare.json()


async def test_token_errors_are_the_recorded_bodies(flow: Flow) -> None:
    dead, no_secret = recorded("token")["errors"]
    app = flow.emu.default_client

    refused = await flow.refresh("a-refresh-token-nobody-issued")
    secretless = await flow.post_token(
        {"grant_type": "refresh_token", "client_id": app.client_id, "refresh_token": "x"}
    )

    assert (refused.status_code, refused.json()) == (dead["status"], dead["body"])
    assert (secretless.status_code, secretless.json()) == (no_secret["status"], no_secret["body"])


async def test_api_errors_are_the_recorded_bodies(flow: Flow) -> None:
    unauthorised, scope_mismatch = recorded("api_errors")["errors"]
    token = await signed_in(flow, "read:jira-work")

    no_token = await flow.me(None)
    no_scope = await flow.get(flow.jira_myself_path(flow.emu.sites[0].id), token)

    assert (no_token.status_code, no_token.json()) == (unauthorised["status"], unauthorised["body"])
    assert (no_scope.status_code, no_scope.json()) == (
        scope_mismatch["status"],
        scope_mismatch["body"],
    )


# Quotas


@pytest.mark.parametrize("reason", recorded("rate_limit")["headers"]["reasons"])
async def test_a_429_carries_the_recorded_headers(flow: Flow, reason: str) -> None:
    recorded_headers = recorded("rate_limit")["headers"]
    token = await signed_in(flow)
    flow.emu.faults.add("jira_myself", Fault("rate_limit", retry_after=30, reason=reason))  # type: ignore[arg-type]

    answer = await flow.get(flow.jira_myself_path(flow.emu.sites[0].id), token)

    assert answer.status_code == recorded_headers["status"]
    for name, pattern in recorded_headers["required"].items():
        assert re.fullmatch(pattern, answer.headers.get(name, "")), name
    near = recorded_headers["near_limit"]
    expected = near["value"] if reason in near["with_reasons"] else None
    assert answer.headers.get(near["header"]) == expected
    assert answer.headers["ratelimit-reason"] == reason


def test_the_emulator_knows_exactly_the_recorded_reasons() -> None:
    assert list(RATE_LIMIT_REASONS) == recorded("rate_limit")["headers"]["reasons"]


# Product APIs


@pytest.mark.parametrize(
    ("name", "site_index"),
    [("jira_myself", 0), ("confluence_current_user", 1), ("confluence_spaces", 1)],
)
async def test_product_apis_have_the_recorded_shape(flow: Flow, name: str, site_index: int) -> None:
    shape = recorded("product_apis")[name]
    path = endpoint(name).path.replace("{cloudid}", flow.emu.sites[site_index].id)

    answer = await flow.get(
        path, await signed_in(flow, ALL_SCOPES + " read:confluence-space.summary")
    )

    assert answer.status_code == shape["status"], answer.text
    assert shape_errors(answer.json(), shape["body"]) == []


@pytest.mark.parametrize("name", sorted(recorded("scopes")["endpoints"]))
async def test_each_endpoint_accepts_and_refuses_the_recorded_scope_sets(
    flow: Flow, name: str
) -> None:
    rules = recorded("scopes")["endpoints"][name]
    jira, wiki = flow.emu.sites
    site = wiki if "confluence" in rules["path"] else jira
    path = rules["path"].replace("{cloudid}", site.id)

    for scopes, status in [
        *((scopes, 200) for scopes in rules["accepts"]),
        *((scopes, 401) for scopes in rules["refuses"]),
    ]:
        assert endpoint(name).accepts(scopes) is (status == 200), scopes
        # A fresh grant each time: a second consent would join the first one's scopes.
        flow.emu.revoke_grant(flow.emu.users[0].account_id)
        answer = await flow.get(path, await signed_in(flow, " ".join(scopes)))
        assert answer.status_code == status, scopes


def test_the_emulator_files_each_recorded_scope_under_its_product() -> None:
    table = recorded("scopes")["products"]["table"]

    assert {scope: product_of_scope(scope) for scope in table} == table


# Personal data


async def test_personal_data_reporting_answers_as_recorded(flow: Flow) -> None:
    data = recorded("personal_data")
    token = await signed_in(flow)
    headers = {"Authorization": f"Bearer {token}"}
    accounts = [
        {"accountId": account_id, "updatedAt": "2024-01-01T00:00:00.000Z"}
        for account_id in data["test_accounts"]
    ]
    body = {"accounts": accounts}
    assert shape_errors(body, data["request"]) == []

    answer = await flow.client.post("/app/report-accounts/", json=body, headers=headers)
    active_only = await flow.client.post(
        "/app/report-accounts/", json={"accounts": accounts[:1]}, headers=headers
    )
    too_many = await flow.client.post(
        "/app/report-accounts/",
        json={"accounts": accounts[:1] * (data["max_accounts"] + 1)},
        headers=headers,
    )

    assert answer.status_code == data["answer"]["status"]
    assert shape_errors(answer.json(), data["answer"]["body"]) == []
    assert answer.headers["cycle-period"] == data["cycle_period_default"]
    statuses = {item["accountId"]: item["status"] for item in answer.json()["accounts"]}
    assert statuses == {key: value for key, value in data["test_accounts"].items() if value}
    assert active_only.status_code == data["nothing_to_do"]["status"]
    assert too_many.status_code in (400, 413)
