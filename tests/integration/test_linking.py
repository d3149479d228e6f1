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

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser
from kavach_fastapi.testing import emulator_provider

from ..databases import TestDatabase
from .conftest import emulated_app, sign_in

OTHER_ACCOUNT = "712020:bbbbbbbb-0000-0000-0000-000000000002"
THIRD_ACCOUNT = "712020:cccccccc-0000-0000-0000-000000000003"
SECOND_PROVIDER = "second-idp"
"""Another sign-in provider (the emulated Atlassian under another id), for linking across providers."""


@pytest.fixture
def two_providers(db: TestDatabase, emu: AtlassianEmulator) -> Iterator[TestClient]:
    """A browser of an app with two providers: Atlassian and a second one."""
    atlassian = emulator_provider(emu)
    second = replace(atlassian, id=SECOND_PROVIDER, name="Second IdP")
    app = emulated_app(db, emu, providers=[atlassian, second])
    with TestClient(app, follow_redirects=False) as client:
        yield client


def someone(emulator: AtlassianEmulator, account_id: str, **profile: Any) -> EmulatedUser:
    """Another person with an Atlassian account (Ada's name and email unless ``profile`` says
    otherwise), who can now sign in at the emulator."""
    person = EmulatedUser(
        account_id=account_id, **{"name": "Ada Lovelace", "email": "ada@example.com", **profile}
    )
    emulator.users.append(person)
    return person


def signed_in_user_id(client: TestClient) -> str:
    response = client.get("/me")
    assert response.status_code == 200
    return str(response.json()["id"])


def test_a_new_atlassian_account_makes_a_new_user(client: TestClient, db: TestDatabase) -> None:
    sign_in(client)

    assert db.count("kavach_users") == 1
    assert db.count("kavach_accounts") == 1


def test_the_same_account_is_the_same_user_even_when_its_email_changes(
    client: TestClient, emu: AtlassianEmulator
) -> None:
    sign_in(client)
    first = signed_in_user_id(client)

    emu.users[0].email = "ada@newmail.example"
    sign_in(client)

    assert signed_in_user_id(client) == first
    assert client.get("/me").json()["email"] == "ada@newmail.example"


def then_another_account_with_adas_email(
    client: TestClient,
    emu: AtlassianEmulator,
    second_sign_in: Callable[[TestClient, EmulatedUser], object],
) -> str:
    """Ada signs in; then an account of someone else with her email, verified, through
    ``second_sign_in``. Returns Ada's user id."""
    sign_in(client)
    first = signed_in_user_id(client)
    other = someone(emu, OTHER_ACCOUNT, email="ADA@Example.com", email_verified=True)
    second_sign_in(client, other)
    return first


def test_a_second_account_of_the_same_provider_never_joins_a_user_by_email(
    client: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    first = then_another_account_with_adas_email(
        client, emu, lambda browser, user: sign_in(browser, user=user)
    )

    assert signed_in_user_id(client) != first
    assert db.count("kavach_users") == 2
    assert db.rows("SELECT user_id FROM kavach_accounts GROUP BY user_id HAVING COUNT(*) > 1") == []


def test_verified_emails_on_both_sides_join_accounts_of_different_providers(
    two_providers: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    first = then_another_account_with_adas_email(
        two_providers,
        emu,
        lambda browser, user: sign_in(browser, user=user, provider=SECOND_PROVIDER),
    )

    assert signed_in_user_id(two_providers) == first
    assert db.count("kavach_users") == 1
    assert db.count("kavach_accounts") == 2


def test_a_user_with_an_account_of_each_provider_is_not_joined_again(
    two_providers: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    sign_in(two_providers)
    sign_in(two_providers, user=someone(emu, OTHER_ACCOUNT), provider=SECOND_PROVIDER)
    first = signed_in_user_id(two_providers)

    sign_in(two_providers, user=someone(emu, THIRD_ACCOUNT), provider=SECOND_PROVIDER)

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
    emu: AtlassianEmulator,
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    for field, value in first.items():
        setattr(emu.users[0], field, value)
    sign_in(client)
    first_user = signed_in_user_id(client)

    sign_in(client, user=someone(emu, OTHER_ACCOUNT, **second))
    me = client.get("/me").json()

    assert me["id"] != first_user
    assert db.count("kavach_users") == 2
    if "email" in second:
        assert me["email"] is None
    if second.get("email_verified") is not True:
        assert me["email_verified"] is False


def test_emails_compare_case_insensitively(
    two_providers: TestClient, db: TestDatabase, emu: AtlassianEmulator
) -> None:
    emu.users[0].email = "Grace.Hopper@Example.COM"
    sign_in(two_providers)

    other = someone(emu, OTHER_ACCOUNT, email="grace.hopper@example.com")
    sign_in(two_providers, user=other, provider=SECOND_PROVIDER)

    assert db.count("kavach_users") == 1
