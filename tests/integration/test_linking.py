"""Who a person is: accounts link to users by Atlassian account id, and by email only when safe."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ..databases import TestDatabase
from .conftest import sign_in
from .fake_atlassian import FakeAtlassian

OTHER_ACCOUNT = "712020:bbbbbbbb-0000-0000-0000-000000000002"


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


def test_verified_emails_on_both_sides_join_the_existing_user(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    sign_in(client)
    first = signed_in_user_id(client)

    fake.set_profile(account_id=OTHER_ACCOUNT, email="ADA@Example.com", email_verified=True)
    sign_in(client)

    assert signed_in_user_id(client) == first
    assert db.count("kavach_users") == 1
    assert db.count("kavach_accounts") == 2


def test_unverified_atlassian_email_makes_a_separate_user(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    sign_in(client)
    first = signed_in_user_id(client)

    fake.set_profile(account_id=OTHER_ACCOUNT, email_verified=False)
    sign_in(client)

    assert signed_in_user_id(client) != first
    assert db.count("kavach_users") == 2


def test_missing_email_verified_flag_counts_as_unverified(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    sign_in(client)

    fake.set_profile(account_id=OTHER_ACCOUNT, email_verified=None)
    sign_in(client)

    assert db.count("kavach_users") == 2


def test_existing_user_with_unverified_email_is_not_joined(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    fake.set_profile(email_verified=False)
    sign_in(client)
    first = signed_in_user_id(client)

    fake.set_profile(account_id=OTHER_ACCOUNT, email_verified=True)
    sign_in(client)

    assert signed_in_user_id(client) != first
    assert db.count("kavach_users") == 2


def test_account_without_email_makes_a_separate_user(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    sign_in(client)

    fake.set_profile(account_id=OTHER_ACCOUNT, email=None, email_verified=None)
    sign_in(client)
    me = client.get("/me").json()

    assert me["email"] is None
    assert me["email_verified"] is False
    assert db.count("kavach_users") == 2


def test_emails_compare_case_insensitively(
    client: TestClient, db: TestDatabase, fake: FakeAtlassian
) -> None:
    fake.set_profile(email="Grace.Hopper@Example.COM")
    sign_in(client)

    fake.set_profile(account_id=OTHER_ACCOUNT, email="grace.hopper@example.com")
    sign_in(client)

    assert db.count("kavach_users") == 1
