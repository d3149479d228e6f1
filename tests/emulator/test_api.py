"""The api.atlassian.com endpoints: /me, accessible resources, Jira's myself, avatars."""

from __future__ import annotations

import pytest

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedSite, EmulatedUser

from .flow import Flow, flow_for


async def test_me_returns_the_atlassian_profile(flow: Flow) -> None:
    tokens = await flow.sign_in()

    response = await flow.me(tokens["access_token"])

    assert response.status_code == 200
    profile = response.json()
    ada = flow.emu.users[0]
    assert profile == {
        "account_type": "atlassian",
        "account_id": ada.account_id,
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
        "picture": f"http://emulator/avatars/{ada.account_id}.svg",
        "account_status": "active",
        "nickname": ada.nickname,
        "zoneinfo": ada.zoneinfo,
        "locale": ada.locale,
        "extended_profile": ada.extended_profile,
    }
    assert set(profile["extended_profile"]) == {
        "job_title",
        "organization",
        "department",
        "location",
    }


async def test_me_requires_read_me_scope(flow: Flow) -> None:
    tokens = await flow.sign_in(scope="read:jira-user")

    response = await flow.me(tokens["access_token"])

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized; scope does not match"}


async def test_me_omits_hidden_email() -> None:
    hidden = EmulatedUser(account_id="557058:hidden", name="Private Person", email=None)
    emu = AtlassianEmulator(users=[hidden])
    async with flow_for(emu) as flow:
        tokens = await flow.sign_in()
        profile = (await flow.me(tokens["access_token"])).json()
        myself = await flow.get(flow.jira_myself_path(emu.sites[0].id), tokens["access_token"])

    assert "email" not in profile
    assert profile["account_id"] == "557058:hidden"
    assert profile["nickname"] == "Private"
    assert "emailAddress" not in myself.json()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic a2F2YWNoOnNlY3JldA=="],
    ids=["missing", "empty", "unknown", "basic"],
)
async def test_me_rejects_missing_or_invalid_token(flow: Flow, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await flow.client.get("/me", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized"}


async def test_accessible_resources_lists_granted_sites_with_product_scopes(flow: Flow) -> None:
    tokens = await flow.sign_in()

    response = await flow.get("/oauth/token/accessible-resources", tokens["access_token"])

    assert response.status_code == 200
    by_id = {site["id"]: site for site in response.json()}
    jira, wiki = flow.emu.sites
    assert set(by_id) == {jira.id, wiki.id}
    assert by_id[jira.id] == {
        "id": jira.id,
        "name": "Acme Engineering",
        "url": "https://acme-eng.atlassian.net",
        "scopes": ["read:jira-user", "read:jira-work"],
        "avatarUrl": f"http://emulator/avatars/sites/{jira.id}.svg",
    }
    assert by_id[wiki.id]["scopes"] == ["read:confluence-user"]


async def test_accessible_resources_may_be_empty(flow: Flow) -> None:
    tokens = await flow.sign_in(site_ids=[])

    response = await flow.get("/oauth/token/accessible-resources", tokens["access_token"])

    assert response.status_code == 200
    assert response.json() == []


async def test_accessible_resources_needs_a_token(flow: Flow) -> None:
    response = await flow.get("/oauth/token/accessible-resources", None)

    assert response.status_code == 401


async def test_sites_granted_later_join_the_same_grant(flow: Flow) -> None:
    jira, wiki = flow.emu.sites
    first = await flow.sign_in(site_ids=[jira.id])

    await flow.sign_in(site_ids=[wiki.id])

    response = await flow.get("/oauth/token/accessible-resources", first["access_token"])
    assert {site["id"] for site in response.json()} == {jira.id, wiki.id}


async def test_jira_myself_requires_site_in_grant_and_scope(flow: Flow) -> None:
    ada, grace = flow.emu.users
    jira, wiki = flow.emu.sites
    without_site = await flow.sign_in(user=ada, site_ids=[wiki.id])
    not_in_grant = await flow.get(flow.jira_myself_path(jira.id), without_site["access_token"])
    without_scope = await flow.sign_in(user=grace, scope="read:me")
    no_scope = await flow.get(flow.jira_myself_path(jira.id), without_scope["access_token"])
    with_scope = await flow.sign_in(user=grace, scope="read:me read:jira-user")
    not_jira = await flow.get(flow.jira_myself_path(wiki.id), with_scope["access_token"])
    allowed = await flow.get(flow.jira_myself_path(jira.id), with_scope["access_token"])

    for response in (not_in_grant, no_scope, not_jira):
        assert response.status_code == 401
        assert response.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    assert allowed.status_code == 200


GRANULAR_MYSELF = "read:application-role:jira read:group:jira read:user:jira read:avatar:jira"


async def test_jira_myself_refuses_read_jira_work_alone(flow: Flow) -> None:
    tokens = await flow.sign_in(scope="read:jira-work")

    response = await flow.get(flow.jira_myself_path(flow.emu.sites[0].id), tokens["access_token"])

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized; scope does not match"}


async def test_jira_myself_accepts_the_whole_granular_set_without_classic_scopes(
    flow: Flow,
) -> None:
    tokens = await flow.sign_in(scope=GRANULAR_MYSELF)

    response = await flow.get(flow.jira_myself_path(flow.emu.sites[0].id), tokens["access_token"])

    assert response.status_code == 200
    assert response.json()["accountId"] == flow.emu.users[0].account_id


async def test_jira_myself_refuses_a_granular_set_with_one_scope_missing(flow: Flow) -> None:
    tokens = await flow.sign_in(scope=GRANULAR_MYSELF.replace(" read:avatar:jira", ""))

    response = await flow.get(flow.jira_myself_path(flow.emu.sites[0].id), tokens["access_token"])

    assert response.status_code == 401


async def test_jira_myself_unknown_cloud_id_is_404(flow: Flow) -> None:
    tokens = await flow.sign_in()

    response = await flow.get(flow.jira_myself_path("no-such-cloud"), tokens["access_token"])

    assert response.status_code == 404


async def test_jira_myself_returns_jira_user(flow: Flow) -> None:
    tokens = await flow.sign_in()
    jira = flow.emu.sites[0]
    ada = flow.emu.users[0]

    response = await flow.get(flow.jira_myself_path(jira.id), tokens["access_token"])

    assert response.status_code == 200
    myself = response.json()
    assert myself["accountId"] == ada.account_id
    assert myself["accountType"] == "atlassian"
    assert myself["emailAddress"] == "ada@example.com"
    assert myself["displayName"] == "Ada Lovelace"
    assert myself["active"] is True
    assert myself["timeZone"] == "Europe/London"
    assert myself["locale"] == "en_GB"
    assert myself["avatarUrls"]["48x48"] == f"http://emulator/avatars/{ada.account_id}.svg"
    assert myself["self"].startswith(
        f"http://emulator/ex/jira/{jira.id}/rest/api/3/user?accountId="
    )


async def test_avatars_are_generated_svg(flow: Flow) -> None:
    ada = flow.emu.users[0]
    jira = flow.emu.sites[0]

    person = await flow.client.get(f"/avatars/{ada.account_id}.svg")
    site = await flow.client.get(f"/avatars/sites/{jira.id}.svg")
    missing = await flow.client.get("/avatars/nobody.svg")

    assert person.status_code == 200
    assert person.headers["content-type"] == "image/svg+xml"
    assert ">AL</text>" in person.text
    assert site.status_code == 200
    assert ">AE</text>" in site.text
    assert missing.status_code == 404


async def test_configured_pictures_are_used_as_given() -> None:
    user = EmulatedUser(
        account_id="1", name="Pic", email="p@example.com", picture="https://img.example/p.png"
    )
    site = EmulatedSite(
        id="c1", name="S", url="https://s.atlassian.net", avatar_url="https://img.example/s.png"
    )
    emu = AtlassianEmulator(users=[user], sites=[site])
    async with flow_for(emu) as flow:
        tokens = await flow.sign_in()
        profile = (await flow.me(tokens["access_token"])).json()
        sites = (await flow.get("/oauth/token/accessible-resources", tokens["access_token"])).json()

    assert profile["picture"] == "https://img.example/p.png"
    assert sites[0]["avatarUrl"] == "https://img.example/s.png"
    assert sites[0]["scopes"] == ["read:jira-user", "read:jira-work"]


async def test_index_page_describes_the_emulator(flow: Flow) -> None:
    response = await flow.client.get("/")

    assert response.status_code == 200
    assert "Atlassian emulator" in response.text
    assert flow.emu.default_client.client_secret not in response.text
