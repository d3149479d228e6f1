"""GET /authorize and the consent page: refusals, consent, decline, auto-consent."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx2
import pytest

from kavach_fastapi.emulator import AtlassianEmulator, AuthorizeError

from .flow import Flow, query_of


async def test_unregistered_redirect_uri_shows_error_page_not_redirect(flow: Flow) -> None:
    response = await flow.client.get(
        flow.authorize_url(redirect_uri="https://evil.example/callback")
    )

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "does not match any callback URL" in response.text


@pytest.mark.parametrize(
    "near_miss",
    [
        "http://127.0.0.1:8000/api/kavach/auth/oauth/callback/atlassian/",
        "http://127.0.0.1:8000/api/kavach/auth/oauth/callback/Atlassian",
        "http://127.0.0.1:8000/api/kavach/auth/oauth/callback/atlassian?x=1",
        "https://127.0.0.1:8000/api/kavach/auth/oauth/callback/atlassian",
    ],
)
async def test_redirect_uri_must_match_byte_for_byte(flow: Flow, near_miss: str) -> None:
    response = await flow.client.get(flow.authorize_url(redirect_uri=near_miss))

    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"client_id": "nobody"}, "not registered"),
        ({"client_id": None}, "not registered"),
        ({"redirect_uri": None}, "no redirect_uri"),
        ({"response_type": "token"}, "response_type"),
        ({"audience": "auth.atlassian.com"}, "audience"),
        ({"audience": None}, "audience"),
        ({"scope": ""}, "no scope"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"code_challenge_method": None}, "S256"),
        ({"code_challenge": None}, "without a code_challenge"),
    ],
)
async def test_invalid_authorize_request_shows_error_page(
    flow: Flow, override: dict[str, str | None], message: str
) -> None:
    response = await flow.client.get(flow.authorize_url(**override))

    assert response.status_code == 400
    assert "location" not in response.headers
    assert message in response.text


async def test_plain_pkce_method_is_unsupported(flow: Flow) -> None:
    with pytest.raises(AuthorizeError, match="S256"):
        await flow.emu.approve(flow.authorize_url(code_challenge_method="plain"))


async def test_pkce_is_optional(flow: Flow) -> None:
    callback = await flow.emu.approve(
        flow.authorize_url(code_challenge=None, code_challenge_method=None)
    )

    assert "code" in query_of(callback)


async def test_scopes_not_configured_for_the_app_show_error_page(flow: Flow) -> None:
    flow.emu.default_client.scopes = ["read:me"]

    response = await flow.client.get(flow.authorize_url(scope="read:me write:jira-work"))

    assert response.status_code == 400
    assert "write:jira-work" in response.text


async def test_consent_page_lists_app_scopes_user_sites(flow: Flow) -> None:
    response = await flow.client.get(flow.authorize_url())

    assert response.status_code == 200
    page = response.text
    assert "Kavach demo" in page
    for scope in ("read:me", "read:jira-user", "read:jira-work", "offline_access"):
        assert scope in page
    assert "View your profile" in page
    for user in flow.emu.users:
        assert user.name in page
        assert f'name="account_id" value="{user.account_id}"' in page
    for site in flow.emu.sites:
        assert site.name in page
        assert f'name="site_id" value="{site.id}"' in page
    assert re.search(r'value="[^"]+" id="account-0" checked', page)
    assert 'id="account-1">' in page
    assert page.count(" checked>") == 1 + len(flow.emu.sites)
    assert 'id="accept"' in page
    assert 'id="decline"' in page
    assert 'action="http://emulator/authorize/decision"' in page


async def test_consent_page_is_self_contained(flow: Flow) -> None:
    response = await flow.client.get(flow.authorize_url())

    page = response.text
    assert "<script" not in page
    assert "<link" not in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert sources
    assert all(source.startswith("http://emulator/avatars/") for source in sources)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_consent_form_carries_only_a_pending_consent_id(flow: Flow) -> None:
    response = await flow.client.get(flow.authorize_url())

    hidden = re.findall(r'type="hidden" name="([^"]+)"', response.text)
    assert hidden == ["consent_id"]
    assert "state-123" not in response.text


async def test_accept_redirects_with_code_and_state(flow: Flow) -> None:
    callback = await flow.emu.approve(flow.authorize_url())

    assert callback.startswith(flow.emu.default_client.redirect_uris[0] + "?")
    params = query_of(callback)
    assert set(params) == {"code", "state"}
    assert params["state"] == "state-123"


async def test_callback_keeps_the_redirect_uris_own_query(flow: Flow) -> None:
    redirect_uri = "http://127.0.0.1:8000/callback?tenant=acme"
    flow.emu.default_client.redirect_uris.append(redirect_uri)

    callback = await flow.emu.approve(flow.authorize_url(redirect_uri=redirect_uri))

    assert callback.startswith("http://127.0.0.1:8000/callback?tenant=acme&code=")


async def test_missing_state_is_not_invented(flow: Flow) -> None:
    callback = await flow.emu.approve(flow.authorize_url(state=None))

    assert "state" not in query_of(callback)


async def test_decline_returns_access_denied(flow: Flow) -> None:
    callback = await flow.emu.decline(flow.authorize_url())

    params = query_of(callback)
    assert callback.startswith(flow.emu.default_client.redirect_uris[0] + "?")
    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "state-123"
    assert "code" not in params


async def test_decline_through_the_form_button(flow: Flow) -> None:
    page = await flow.client.get(flow.authorize_url())
    consent_id = re.findall(r'name="consent_id" value="([^"]+)"', page.text)[0]

    response = await flow.client.post(
        "/authorize/decision", data={"consent_id": consent_id, "decision": "decline"}
    )

    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "access_denied"


async def test_unknown_consent_id_shows_error_page(flow: Flow) -> None:
    response = await flow.client.post(
        "/authorize/decision", data={"consent_id": "forged", "decision": "accept"}
    )

    assert response.status_code == 400
    assert "location" not in response.headers


async def test_consent_id_is_single_use(flow: Flow) -> None:
    page = await flow.client.get(flow.authorize_url())
    consent_id = re.findall(r'name="consent_id" value="([^"]+)"', page.text)[0]
    form = {
        "consent_id": consent_id,
        "decision": "accept",
        "account_id": flow.emu.users[0].account_id,
    }

    first = await flow.client.post("/authorize/decision", data=form)
    second = await flow.client.post("/authorize/decision", data=form)

    assert first.status_code == 302
    assert second.status_code == 400


async def test_pending_consent_expires(flow: Flow) -> None:
    page = await flow.client.get(flow.authorize_url())
    consent_id = re.findall(r'name="consent_id" value="([^"]+)"', page.text)[0]
    flow.emu.clock.advance(timedelta(minutes=31))

    response = await flow.client.post(
        "/authorize/decision",
        data={
            "consent_id": consent_id,
            "decision": "accept",
            "account_id": flow.emu.users[0].account_id,
        },
    )

    assert response.status_code == 400
    assert "expired" in response.text


async def test_accept_with_unknown_account_or_site_shows_error_page(flow: Flow) -> None:
    with pytest.raises(AuthorizeError, match="site"):
        await flow.emu.approve(flow.authorize_url(), site_ids=["not-a-site"])


async def test_chosen_account_and_sites_are_granted(flow: Flow) -> None:
    grace = flow.emu.users[1]
    wiki = flow.emu.sites[1]

    tokens = await flow.sign_in(user=grace, site_ids=[wiki.id])

    me = await flow.me(tokens["access_token"])
    sites = await flow.get("/oauth/token/accessible-resources", tokens["access_token"])
    assert me.json()["account_id"] == grace.account_id
    assert [site["id"] for site in sites.json()] == [wiki.id]


async def test_auto_consent_redirects_straight_back(flow: Flow) -> None:
    flow.emu.auto_consent = True

    response = await flow.client.get(flow.authorize_url())

    assert response.status_code == 302
    params = query_of(response.headers["location"])
    assert params["state"] == "state-123"
    tokens = (await flow.exchange(params["code"])).json()
    me = await flow.me(tokens["access_token"])
    sites = await flow.get("/oauth/token/accessible-resources", tokens["access_token"])
    assert me.json()["account_id"] == flow.emu.users[0].account_id
    assert len(sites.json()) == len(flow.emu.sites)


async def test_auto_consent_never_bypasses_redirect_uri_check(flow: Flow) -> None:
    flow.emu.auto_consent = True

    response = await flow.client.get(flow.authorize_url(redirect_uri="https://evil.example/cb"))

    assert response.status_code == 400
    assert "location" not in response.headers


async def test_auto_consent_constructor_option() -> None:
    emu = AtlassianEmulator(auto_consent=True)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=emu.app), base_url="http://emulator"
    ) as client:
        response = await client.get(Flow(emu, client).authorize_url())

    assert response.status_code == 302
