"""Who a person is: accounts link to users by provider account id, and by email only when safe.

Email joins only accounts of different providers, both verified: a new account of a provider
the user already has is always a new user, whatever its email says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ..databases import TestDatabase
from .conftest import PREFIX, build_app, consent_params, fake_provider, sign_in
from .fake_atlassian import FakeAtlassian

OTHER_ACCOUNT = "712020:bbbbbbbb-0000-0000-0000-000000000002"
THIRD_ACCOUNT = "712020:cccccccc-0000-0000-0000-000000000003"
SECOND_PROVIDER = "second-idp"
"""Another sign-in provider (the fake Atlassian under another id), for linking across providers."""


@pytest.fixture
def two_providers(db: TestDatabase, fake: FakeAtlassian) -> Iterator[TestClient]:
    """A browser of an app with two providers: Atlassian and a second one."""
    atlassian = fake_provider()
    second = replace(atlassian, id=SECOND_PROVIDER, name="Second IdP")
    app = build_app(db, fake, providers=[atlassian, second])
    with TestClient(app, follow_redirects=False) as client:
        yield client


def sign_in_with(client: TestClient, provider: str) -> None:
    """A whole successful sign-in with the provider of that id."""
    started = client.get(f"{PREFIX}/auth/oauth/authorize/{provider}")
    assert started.status_code == 302, started.text
    state = consent_params(started)["state"]
    finished = client.get(
        f"{PREFIX}/auth/oauth/callback/{provider}", params={"state": state, "code": "code-2"}
    )
    assert finished.status_code == 303, finished.text
    assert "error=" not in finished.headers["location"], finished.headers["location"]


def signed_in_user_id(client: TestClient) -> str:
    response = client.get("/me")
    assert response.status_code == 200
    return str(response.json()["id"])


def test_a_new_atlassian_account_makes_a_new_user(client: TestClient, db: TestDatabase) -> None:
    sign_in(client)

    assert db.count("kavach_users") == 1
    assert db.count("kavach_accounts") == 1


def test_the_same_account_is_the_same_user_even_when_its_email_changes(
    client: TestClient, fake: FakeAtlassian
) -> None:
    sign_in(client)
    first = signed_in_user_id(client)

    fake.set_profile(email="ada@newmail.example")
    sign_in(client)

    assert signed_in_user_id(client) == first
    assert client.get("/me").json()["email"] == "ada@newmail.example"


def then_another_account_with_adas_email(
    client: TestClient, fake: FakeAtlassian, second_sign_in: Callable[[TestClient], object]
) -> str:
    """Ada signs in; then an account of someone else with her email, verified, through
    ``second_sign_in``. Returns Ada's user id."""
    sign_in(client)
    first = signed_in_user_id(client)
    fake.set_profile(account_id=OTHER_ACCOUNT, email="ADA@Example.com", email_verified=True)
    second_sign_in(client)
    return first


def test_a_second_account_of_the_same_provider_never_joins_a_user_by_email(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    first = then_another_account_with_adas_email(client, fake, sign_in)

    assert signed_in_user_id(client) != first
    assert db.count("kavach_users") == 2
    assert db.rows("SELECT user_id FROM kavach_accounts GROUP BY user_id HAVING COUNT(*) > 1") == []


def test_verified_emails_on_both_sides_join_accounts_of_different_providers(
    two_providers: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    first = then_another_account_with_adas_email(
        two_providers, fake, lambda browser: sign_in_with(browser, SECOND_PROVIDER)
    )

    assert signed_in_user_id(two_providers) == first
    assert db.count("kavach_users") == 1
    assert db.count("kavach_accounts") == 2


def test_a_user_with_an_account_of_each_provider_is_not_joined_again(
    two_providers: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    sign_in(two_providers)
    fake.set_profile(account_id=OTHER_ACCOUNT)
    sign_in_with(two_providers, SECOND_PROVIDER)
    first = signed_in_user_id(two_providers)

    fake.set_profile(account_id=THIRD_ACCOUNT)
    sign_in_with(two_providers, SECOND_PROVIDER)

    assert signed_in_user_id(two_providers) != first
    assert db.count("kavach_users") == 2, "two users may share an email"


SEPARATE_PEOPLE = {
    "second-email-unverified": ({}, {"email_verified": False}),
    "second-email-verified-flag-missing": ({}, {"email_verified": None}),
    "first-email-unverified": ({"email_verified": False}, {"email_verified": True}),
    "second-without-email": ({}, {"email": None, "email_verified": None}),
}
"""Two Atlassian accounts with the same email that must still be two people, and why."""


@pytest.mark.parametrize(("first", "second"), SEPARATE_PEOPLE.values(), ids=SEPARATE_PEOPLE)
def test_an_unverified_or_missing_email_never_joins_two_accounts_into_one_person(
    client: TestClient,
    db: TestDatabase,
    fake: FakeAtlassian,
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    fake.set_profile(**first)
    sign_in(client)
    first_user = signed_in_user_id(client)

    fake.set_profile(account_id=OTHER_ACCOUNT, **second)
    sign_in(client)
    me = client.get("/me").json()

    assert me["id"] != first_user
    assert db.count("kavach_users") == 2
    if "email" in second:
        assert me["email"] is None
    if second.get("email_verified") is not True:
        assert me["email_verified"] is False


def test_emails_compare_case_insensitively(
    two_providers: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    fake.set_profile(email="Grace.Hopper@Example.COM")
    sign_in(two_providers)

    fake.set_profile(account_id=OTHER_ACCOUNT, email="grace.hopper@example.com")
    sign_in_with(two_providers, SECOND_PROVIDER)

    assert db.count("kavach_users") == 1
