"""A site per cloud id with its products, and sites Atlassian lists but the person never granted.

Against the emulator, which lists a site once per product as Atlassian does, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

from kavach_fastapi import AtlassianSite, sites_for_product, sites_with_scope
from kavach_fastapi.emulator import Fault

from ..databases import TestDatabase
from .token_harness import build_harness, from_now, running, sign_in, the_account, update_account

SERVICE_DESK = ("read:jira-work", "read:servicedesk-request", "write:servicedesk-request")


async def test_a_site_listed_once_per_product_is_one_site_with_its_products_and_every_scope(
    db: TestDatabase,
) -> None:
    harness = build_harness(db, scopes=(*SERVICE_DESK, "read:confluence-user"))
    jira, wiki = harness.emu.sites
    async with running(harness.app) as client:
        await sign_in(client, harness.emu)

        answer = await client.get("/sites")

    sites = [AtlassianSite.model_validate(item) for item in answer.json()]
    assert [site.id for site in sites] == [jira.id, wiki.id]
    engineering, _wiki = sites
    assert engineering.products == ["jira", "jira-servicedesk"]
    assert engineering.scopes == [
        "read:jira-work",
        "read:servicedesk-request",
        "write:servicedesk-request",
    ]
    assert _wiki.products == ["confluence"]
    assert [site.id for site in sites_for_product(sites, "jira-servicedesk")] == [jira.id]
    assert [site.id for site in sites_for_product(sites, "jira-service-management")] == [jira.id]
    assert [site.id for site in sites_for_product(sites, "JIRA")] == [jira.id]
    assert sites_for_product(sites, "bitbucket") == []
    assert [site.id for site in sites_with_scope(sites, "read:servicedesk-request")] == [jira.id]


async def test_a_product_is_known_from_its_scopes_not_from_a_word_in_them(
    db: TestDatabase,
) -> None:
    # read:jira-user names Jira; a Confluence scope that mentions jira nowhere does not.
    harness = build_harness(db, scopes=("read:user:jira", "read:space:confluence"))
    jira, wiki = harness.emu.sites
    async with running(harness.app) as client:
        await sign_in(client, harness.emu)

        sites = [AtlassianSite.model_validate(item) for item in (await client.get("/sites")).json()]

    assert {site.id: site.products for site in sites} == {
        jira.id: ["jira"],
        wiki.id: ["confluence"],
    }
    assert [site.id for site in sites_for_product(sites, "confluence")] == [wiki.id]


async def test_a_list_of_sites_cached_before_products_existed_is_fetched_again(
    db: TestDatabase,
) -> None:
    harness = build_harness(db, scopes=SERVICE_DESK)
    jira, _wiki = harness.emu.sites
    entry = {"id": jira.id, "name": jira.name, "url": jira.url, "scopes": ["read:jira-work"]}
    async with running(harness.app) as client:
        await sign_in(client, harness.emu)
        assert (await client.get("/sites")).status_code == 200
        # What an earlier version stored: one entry per product, without products.
        update_account(
            db,
            sites_json=json.dumps([entry, {**entry, "scopes": ["read:servicedesk-request"]}]),
            sites_fetched_at=from_now(seconds=-1),
        )

        answer = await client.get("/sites")

    assert answer.status_code == 200
    assert {site["id"]: site["products"] for site in answer.json()}[jira.id] == [
        "jira",
        "jira-servicedesk",
    ]
    assert harness.emu.calls["accessible_resources"] == 2
    assert "products" in the_account(db)["sites_json"]


@pytest.mark.parametrize("status", [403, 401])
async def test_a_site_atlassian_lists_but_the_person_never_granted_fails_cleanly(
    db: TestDatabase, status: int
) -> None:
    harness = build_harness(db)
    emu = harness.emu
    jira, wiki = emu.sites
    async with running(harness.app) as client:
        await sign_in(client, emu, site_ids=[wiki.id])
        emu.faults.add("accessible_resources", Fault("unauthorised_site", status=status))

        listed = (await client.get("/sites")).json()
        answer = await client.get(f"/jira/{jira.id}/myself")
        granted = await client.get("/token")

    assert jira.id in {site["id"] for site in listed}
    # The product API's own answer comes back to the app: no 500, no lost grant.
    assert answer.status_code == status, answer.text
    assert answer.json() == {
        "code": status,
        "message": "Forbidden" if status == 403 else "Unauthorized",
    }
    assert granted.status_code == 200
    assert not the_account(db)["needs_reauth"]
    # A 401 is worth one refresh and one retry (the token may have died); a 403 is not.
    assert emu.calls["jira_myself"] == (1 if status == 403 else 2)
    assert emu.calls["refresh"] == (0 if status == 403 else 1)
