"""``KAVACH_ALLOWED_SITES``: only people whose grant reaches one of the app's sites may sign in.

The emulator has two sites: *Acme Engineering* (Jira and Jira Service Management, listed twice
by ``accessible-resources``) and *Acme Wiki* (Confluence). On the consent page the person
ticks the sites to grant; the policy reads the new grant's sites at the callback. Every test
runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from kavach_fastapi import ConfigurationError, KavachSettings
from kavach_fastapi.emulator import AtlassianEmulator, Fault
from kavach_fastapi.settings import load_settings

from ..databases import TestDatabase
from .policy_apps import NOTHING, landing_query, policy_app, row_counts, started, try_sign_in

ENGINEERING = "1f7c2a3e-9b4d-4c5a-8e6f-2d3b4c5a6e7f"
WIKI = "6b8e4d2c-3a1f-4e9b-a7c6-5f0d1e2b3c4a"
SIGNED_IN = {"kavach_users": 1, "kavach_accounts": 1, "kavach_sessions": 1}


def sign_in_granting(
    db: TestDatabase,
    emulator: AtlassianEmulator,
    sites: list[str] | None,
    *,
    allowed: list[str] | None = None,
) -> tuple[dict[str, str], int, dict[str, int]]:
    """Sign in through an app allowing the ``allowed`` sites (when not given, what the environment
    says), ticking ``sites`` on the consent page (every site when None): the query of the page
    the callback sent the browser to, the status ``/me`` then answers, and the row counts."""
    options = {} if allowed is None else {"allowed_sites": allowed}
    with started(policy_app(db, emulator, **options)) as client:
        landed = landing_query(try_sign_in(client, emulator, site_ids=sites))
        me = client.get("/me").status_code
    return landed, me, row_counts(db)


@pytest.mark.parametrize(
    "allowed",
    [
        pytest.param([ENGINEERING], id="by-cloud-id"),
        pytest.param(["https://ACME-eng.atlassian.net/"], id="by-url"),
        pytest.param(["https://elsewhere.atlassian.net", ENGINEERING], id="one-of-several"),
    ],
)
def test_a_person_who_reaches_an_allowed_site_signs_in(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator, allowed: list[str]
) -> None:
    signing_in = sign_in_granting(db, atlassian_emulator, [ENGINEERING], allowed=allowed)

    assert signing_in == ({}, 200, SIGNED_IN)


@pytest.mark.parametrize(
    "allowed",
    [
        pytest.param([ENGINEERING], id="by-cloud-id"),
        pytest.param(["https://acme-eng.atlassian.net"], id="by-url"),
    ],
)
def test_a_person_who_granted_only_another_site_is_refused_and_nothing_is_written(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator, allowed: list[str]
) -> None:
    signing_in = sign_in_granting(db, atlassian_emulator, [WIKI], allowed=allowed)

    assert signing_in == ({"error": "site_not_allowed"}, 401, NOTHING)


def test_a_person_who_granted_no_site_is_refused(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    app = policy_app(db, atlassian_emulator, allowed_sites=[ENGINEERING])
    with started(app) as client:
        json = {"accept": "application/json"}
        answer = try_sign_in(client, atlassian_emulator, site_ids=[], headers=json)
        assert client.get("/me").status_code == 401

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "site_not_allowed"
    assert row_counts(db) == NOTHING


def test_the_policy_reads_the_environment_variable(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAVACH_ALLOWED_SITES", f"https://acme-wiki.atlassian.net, {ENGINEERING}")

    assert sign_in_granting(db, atlassian_emulator, [WIKI]) == ({}, 200, SIGNED_IN)


def test_when_atlassian_cannot_list_the_sites_the_sign_in_fails_and_writes_nothing(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    atlassian_emulator.faults.add("accessible_resources", Fault("status", status=500))

    signing_in = sign_in_granting(db, atlassian_emulator, None, allowed=[ENGINEERING])

    assert signing_in == ({"error": "provider_unavailable"}, 401, NOTHING)


def test_without_the_policy_anyone_signs_in_and_the_sites_are_not_asked_for(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    assert sign_in_granting(db, atlassian_emulator, [WIKI]) == ({}, 200, SIGNED_IN)
    assert atlassian_emulator.calls["accessible_resources"] == 0


def test_allowed_sites_are_cloud_ids_or_urls_normalised_to_their_origin() -> None:
    settings = load_settings(
        KavachSettings, allowed_sites=" HTTPS://Acme.Atlassian.net/ ,1f7c2a3e-9b4d-4c5a,"
    )
    assert settings.allowed_sites == ("https://acme.atlassian.net", "1f7c2a3e-9b4d-4c5a")


@pytest.mark.parametrize(
    "value", ["acme.atlassian.net/jira", "ftp://acme.atlassian.net", "https://acme.net/wiki"]
)
def test_an_allowed_site_that_is_neither_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="allowed_sites"):
        load_settings(KavachSettings, allowed_sites=value)
