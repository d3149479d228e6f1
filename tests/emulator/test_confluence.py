"""Confluence through the 3LO gateway: the current user and the v2 list of spaces."""

from __future__ import annotations

import pytest

from .flow import Flow


def current_user(cloud_id: str) -> str:
    return f"/ex/confluence/{cloud_id}/wiki/rest/api/user/current"


def spaces(cloud_id: str, query: str = "") -> str:
    return f"/ex/confluence/{cloud_id}/wiki/api/v2/spaces{query}"


@pytest.mark.parametrize("scope", ["read:confluence-user", "read:content-details:confluence"])
async def test_the_current_user_is_served_with_the_classic_or_the_granular_scope(
    flow: Flow, scope: str
) -> None:
    _jira, wiki = flow.emu.sites
    ada = flow.emu.users[0]
    tokens = await flow.sign_in(scope=f"read:me {scope}")

    response = await flow.get(current_user(wiki.id), tokens["access_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "known"
    assert body["accountId"] == ada.account_id
    assert body["displayName"] == "Ada Lovelace"
    assert body["email"] == "ada@example.com"
    assert body["_links"]["base"] == "https://acme-wiki.atlassian.net/wiki"
    assert set(body["profilePicture"]) == {"path", "width", "height", "isDefault"}
    assert flow.emu.calls["confluence_current_user"] == 1


async def test_the_current_user_is_refused_with_read_user_confluence_alone(flow: Flow) -> None:
    _jira, wiki = flow.emu.sites
    tokens = await flow.sign_in(scope="read:me read:user:confluence")

    response = await flow.get(current_user(wiki.id), tokens["access_token"])

    assert response.status_code == 401


@pytest.mark.parametrize("scope", ["read:confluence-space.summary", "read:space:confluence"])
async def test_spaces_are_served_with_the_classic_or_the_granular_scope(
    flow: Flow, scope: str
) -> None:
    _jira, wiki = flow.emu.sites
    tokens = await flow.sign_in(scope=f"read:me {scope}")

    response = await flow.get(spaces(wiki.id), tokens["access_token"])

    assert response.status_code == 200
    body = response.json()
    assert [space["key"] for space in body["results"]] == ["ENG", "HR"]
    first = body["results"][0]
    assert first["id"] == "98306"
    assert (first["name"], first["type"], first["status"]) == ("Engineering", "global", "current")
    assert first["_links"] == {"webui": "/spaces/ENG"}
    assert body["_links"] == {"base": "https://acme-wiki.atlassian.net/wiki"}


async def test_spaces_come_in_pages_of_limit_with_a_next_link(flow: Flow) -> None:
    _jira, wiki = flow.emu.sites
    tokens = await flow.sign_in(scope="read:me read:space:confluence")

    answer = await flow.get(spaces(wiki.id, "?limit=1"), tokens["access_token"])
    second = await flow.get(spaces(wiki.id, "?limit=1&cursor=1"), tokens["access_token"])
    bad = await flow.get(spaces(wiki.id, "?limit=0"), tokens["access_token"])

    first = answer.json()
    assert [space["key"] for space in first["results"]] == ["ENG"]
    assert first["_links"]["next"] == "/wiki/api/v2/spaces?limit=1&cursor=1"
    assert answer.headers["link"] == '</wiki/api/v2/spaces?limit=1&cursor=1>; rel="next"'
    assert [space["key"] for space in second.json()["results"]] == ["HR"]
    assert "next" not in second.json()["_links"]
    assert "link" not in second.headers
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "scope",
    ["read:me read:confluence-content.all", "read:me read:jira-work read:space:jira"],
)
async def test_spaces_refuse_a_token_without_a_space_scope(flow: Flow, scope: str) -> None:
    _jira, wiki = flow.emu.sites
    tokens = await flow.sign_in(scope=scope)

    response = await flow.get(spaces(wiki.id), tokens["access_token"])

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized; scope does not match"}


async def test_confluence_on_a_site_without_confluence_answers_scope_does_not_match(
    flow: Flow,
) -> None:
    jira, _wiki = flow.emu.sites
    tokens = await flow.sign_in(scope="read:me read:confluence-user read:space:confluence")

    user = await flow.get(current_user(jira.id), tokens["access_token"])
    listed = await flow.get(spaces(jira.id), tokens["access_token"])

    assert (user.status_code, listed.status_code) == (401, 401)


async def test_confluence_needs_a_live_token(flow: Flow) -> None:
    _jira, wiki = flow.emu.sites

    response = await flow.get(current_user(wiki.id), "not-a-token")

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized"}
