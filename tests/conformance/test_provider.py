"""The package reads every variant Atlassian was recorded to answer."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from kavach_fastapi.atlassian.sites import parse_accessible_resources, product_of_scope
from kavach_fastapi.oauth import GrantRevoked, OAuthClient, SharedTransport
from kavach_fastapi.providers import atlassian_provider
from kavach_fastapi.providers.atlassian import parse_atlassian_profile
from kavach_fastapi.retry import retry_after_seconds

from .recorded import recorded

ME = recorded("me")
SITES = recorded("accessible_resources")
TOKEN = recorded("token")


@pytest.mark.parametrize("variant", ME["variants"], ids=lambda variant: variant["name"])
def test_every_recorded_profile_is_read(variant: dict[str, Any]) -> None:
    profile = parse_atlassian_profile(variant["body"])

    expect = variant["expect"]
    assert profile.account_id == expect["account_id"]
    assert profile.email == expect["email"]
    assert profile.email_verified is expect["email_verified"]
    assert profile.name == expect["name"]
    assert profile.active is expect["active"]


@pytest.mark.parametrize("account_id", ME["account_id_formats"]["examples"])
def test_each_account_id_format_is_kept_as_it_is(account_id: str) -> None:
    patterns = ME["account_id_formats"]["patterns"]
    body = {**ME["variants"][0]["body"], "account_id": account_id}

    assert any(re.fullmatch(pattern, account_id) for pattern in patterns)
    assert parse_atlassian_profile(body).account_id == account_id


@pytest.mark.parametrize("variant", SITES["variants"], ids=lambda variant: variant["name"])
def test_every_recorded_list_of_sites_is_read_as_one_site_per_cloud_id(
    variant: dict[str, Any],
) -> None:
    sites = parse_accessible_resources(variant["body"])

    read = [
        {
            "id": site.id,
            "name": site.name,
            "url": site.url,
            "products": site.products,
            "scopes": site.scopes,
        }
        for site in sites
    ]
    assert read == variant["expect"]


def test_the_package_files_each_recorded_scope_under_its_product() -> None:
    table = recorded("scopes")["products"]["table"]

    assert {scope: product_of_scope(scope) for scope in table} == table


def _client(answer: httpx2.Response) -> OAuthClient:
    provider = atlassian_provider(
        "client-id", "client-secret", auth_url="https://auth.test", api_url="https://api.test"
    )
    transport = SharedTransport(httpx2.MockTransport(lambda _request: answer))
    return OAuthClient(provider, transport=transport, timeout=5.0)


@pytest.mark.parametrize("variant", TOKEN["variants"], ids=lambda variant: variant["name"])
async def test_every_recorded_refresh_answer_is_read(variant: dict[str, Any]) -> None:
    client = _client(httpx2.Response(200, json=variant["body"]))

    tokens = await client.refresh("the-refresh-token-sent")

    assert tokens.refresh_token == variant["expect"]["refresh_token"]
    assert list(tokens.scopes) == variant["expect"]["scopes"]
    assert tokens.access_token == variant["body"]["access_token"]
    assert tokens.expires_at is not None


async def test_the_recorded_dead_grant_ends_the_grant() -> None:
    dead = TOKEN["errors"][0]
    client = _client(httpx2.Response(dead["status"], json=dead["body"]))

    with pytest.raises(GrantRevoked):
        await client.refresh("a-dead-refresh-token")


@pytest.mark.parametrize(
    "item", recorded("rate_limit")["retry_after"], ids=lambda item: item["name"]
)
def test_both_recorded_forms_of_retry_after_are_read(item: dict[str, Any]) -> None:
    answer = httpx2.Response(429, headers={"Retry-After": item["value"]})

    assert retry_after_seconds(answer) == item["seconds"]
