"""accessible-resources as Atlassian answers it: a site per product, joined grants, stray sites."""

from __future__ import annotations

import pytest

from kavach_fastapi.emulator import Fault

from .flow import Flow

RESOURCES = "/oauth/token/accessible-resources"
JIRA_AND_SERVICE_DESK = (
    "read:me read:jira-work read:jira-user read:servicedesk-request write:servicedesk-request"
)


async def test_a_site_with_two_products_is_listed_once_per_product_with_that_products_scopes(
    flow: Flow,
) -> None:
    jira, _wiki = flow.emu.sites
    tokens = await flow.sign_in(scope=JIRA_AND_SERVICE_DESK, site_ids=[jira.id])

    entries = (await flow.get(RESOURCES, tokens["access_token"])).json()

    assert [entry["id"] for entry in entries] == [jira.id, jira.id]
    assert [entry["scopes"] for entry in entries] == [
        ["read:jira-work", "read:jira-user"],
        ["read:servicedesk-request", "write:servicedesk-request"],
    ]
    assert {entry["name"] for entry in entries} == {"Acme Engineering"}


@pytest.mark.parametrize(
    ("scope", "jira_scopes", "wiki_scopes"),
    [
        pytest.param(
            "read:me read:servicedesk-request read:confluence-user",
            ["read:servicedesk-request"],
            ["read:confluence-user"],
            id="classic-scopes",
        ),
        pytest.param(
            "read:me read:user:jira read:space:confluence",
            ["read:user:jira"],
            ["read:space:confluence"],
            id="granular-scopes",
        ),
    ],
)
async def test_a_site_is_listed_only_for_the_products_the_scopes_reach_with_those_scopes(
    flow: Flow, scope: str, jira_scopes: list[str], wiki_scopes: list[str]
) -> None:
    jira, wiki = flow.emu.sites
    tokens = await flow.sign_in(scope=scope)

    entries = (await flow.get(RESOURCES, tokens["access_token"])).json()

    assert [(entry["id"], entry["scopes"]) for entry in entries] == [
        (jira.id, jira_scopes),
        (wiki.id, wiki_scopes),
    ]


async def test_tokens_issued_after_a_second_consent_carry_every_scope_of_the_joined_grant(
    flow: Flow,
) -> None:
    jira, wiki = flow.emu.sites
    first = await flow.sign_in(scope="read:me read:jira-user offline_access", site_ids=[jira.id])

    second = await flow.sign_in(scope="read:me read:confluence-user", site_ids=[wiki.id])
    refreshed = (await flow.refresh(first["refresh_token"])).json()

    for tokens in (second, refreshed):
        assert set(tokens["scope"].split()) == {
            "read:me",
            "read:jira-user",
            "offline_access",
            "read:confluence-user",
        }
        entries = (await flow.get(RESOURCES, tokens["access_token"])).json()
        assert [(entry["id"], entry["scopes"]) for entry in entries] == [
            (jira.id, ["read:jira-user"]),
            (wiki.id, ["read:confluence-user"]),
        ]
        myself = await flow.get(flow.jira_myself_path(jira.id), tokens["access_token"])
        assert myself.status_code == 200
    assert "refresh_token" in second


async def test_a_token_issued_before_the_second_consent_keeps_its_own_scopes(flow: Flow) -> None:
    jira, wiki = flow.emu.sites
    first = await flow.sign_in(scope="read:me read:jira-user", site_ids=[jira.id])

    await flow.sign_in(scope="read:me read:confluence-user", site_ids=[wiki.id])
    current_user = f"/ex/confluence/{wiki.id}/wiki/rest/api/user/current"

    assert (await flow.get(current_user, first["access_token"])).status_code == 401


@pytest.mark.parametrize("status", [403, 401])
async def test_the_unauthorised_site_fault_lists_a_site_never_granted_whose_apis_then_refuse(
    flow: Flow, status: int
) -> None:
    jira, wiki = flow.emu.sites
    tokens = await flow.sign_in(site_ids=[wiki.id])
    flow.emu.faults.add("accessible_resources", Fault("unauthorised_site", status=status, times=1))

    listed = (await flow.get(RESOURCES, tokens["access_token"])).json()
    refused = await flow.get(flow.jira_myself_path(jira.id), tokens["access_token"])
    relisted = (await flow.get(RESOURCES, tokens["access_token"])).json()

    assert [entry["id"] for entry in listed] == [wiki.id, jira.id]
    assert refused.status_code == status
    assert refused.json()["code"] == status
    assert [entry["id"] for entry in relisted] == [wiki.id]
    assert flow.emu.calls["jira_myself"] == 1


async def test_a_site_never_granted_nor_listed_answers_scope_does_not_match(flow: Flow) -> None:
    jira, wiki = flow.emu.sites
    tokens = await flow.sign_in(site_ids=[wiki.id])

    refused = await flow.get(flow.jira_myself_path(jira.id), tokens["access_token"])

    assert refused.status_code == 401
    assert refused.json() == {"code": 401, "message": "Unauthorized; scope does not match"}


def test_the_unauthorised_site_fault_belongs_to_accessible_resources(flow: Flow) -> None:
    with pytest.raises(ValueError, match="only to accessible_resources"):
        flow.emu.faults.add("me", Fault("unauthorised_site"))


def test_the_unauthorised_site_fault_answers_401_or_403_only() -> None:
    assert Fault("unauthorised_site").status == 403
    with pytest.raises(ValueError, match="401 or 403"):
        Fault("unauthorised_site", status=404)
