"""The shipped migrations: they build exactly the schema the models describe, and upgrade old data.

Each test starts from an empty database (a SQLite file, and a PostgreSQL database of its own),
brings it to a revision with the package's own ``upgrade``, and reads it behind its back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kavach_fastapi.migrate import VERSION_TABLE, upgrade
from kavach_fastapi.store import Store
from kavach_fastapi.tables import metadata

from ..databases import TestDatabase, ago


async def upgrade_to(database: TestDatabase, revision: str) -> None:
    store = Store(database.url)
    try:
        await upgrade(store.database.writer, revision)
    finally:
        await store.dispose()


async def test_the_migrated_schema_matches_the_models(empty_db: TestDatabase) -> None:
    await upgrade_to(empty_db, "head")

    with empty_db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        differences = compare_metadata(context, metadata)

    assert differences == []


# A database at revision 0001 where one user came to hold three Atlassian accounts (joined by a
# shared verified email) and an account of another provider; and a second, ordinary user.
SHARED = "a" * 32
ORDINARY = "b" * 32


def add_user(database: TestDatabase, user_id: str, email: str, name: str) -> None:
    database.execute(
        "INSERT INTO kavach_users (id, email, email_normalized, email_verified, name, image, "
        "created_at, updated_at) VALUES (:id, :email, :email, true, :name, NULL, :at, :at)",
        id=user_id,
        email=email,
        name=name,
        at=ago(days=30),
    )


def add_account(
    database: TestDatabase, account_id: str, user_id: str, provider: str, *, linked: datetime
) -> None:
    database.execute(
        "INSERT INTO kavach_accounts (id, user_id, provider, provider_account_id, scopes, "
        "access_token, refresh_token, needs_reauth, token_version, created_at, updated_at) "
        "VALUES (:id, :user_id, :provider, :external, 'read:me', :access, :refresh, false, 3, "
        ":linked, :linked)",
        id=account_id,
        user_id=user_id,
        provider=provider,
        external=f"712020:{account_id}",
        access=f"sealed-access-{account_id}",
        refresh=f"sealed-refresh-{account_id}",
        linked=linked,
    )


def add_session(database: TestDatabase, token_hash: str, user_id: str) -> None:
    database.execute(
        "INSERT INTO kavach_sessions (token_hash, user_id, created_at, expires_at, "
        "last_active_at) VALUES (:hash, :user_id, :at, :until, :at)",
        hash=token_hash,
        user_id=user_id,
        at=ago(hours=1),
        until=ago(hours=-100),
    )


def seed_version_0001(database: TestDatabase) -> None:
    add_user(database, SHARED, "ada@example.com", "Ada Lovelace")
    add_user(database, ORDINARY, "grace@example.com", "Grace Hopper")
    # Inserted out of order: "earliest linked" is by created_at, not by insertion.
    add_account(database, "acct-later", SHARED, "atlassian", linked=ago(days=10))
    add_account(database, "acct-first", SHARED, "atlassian", linked=ago(days=20))
    add_account(database, "acct-latest", SHARED, "atlassian", linked=ago(days=5))
    add_account(database, "acct-other-idp", SHARED, "other-idp", linked=ago(days=15))
    add_account(database, "acct-grace", ORDINARY, "atlassian", linked=ago(days=25))
    add_session(database, "s" * 64, SHARED)
    add_session(database, "t" * 64, ORDINARY)


def accounts(database: TestDatabase) -> dict[str, dict[str, Any]]:
    """The account rows with the columns of whatever revision the database is at."""
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM kavach_accounts")).mappings().all()
    return {row["id"]: dict(row) for row in rows}


async def seeded_then_upgraded(
    database: TestDatabase, revision: str, seed: Callable[[TestDatabase], None]
) -> TestDatabase:
    """``database`` migrated to ``revision``, given rows by ``seed``, then upgraded to the newest."""
    await upgrade_to(database, revision)
    seed(database)
    await upgrade_to(database, "head")
    return database


@pytest.fixture
async def upgraded_from_0001(empty_db: TestDatabase) -> TestDatabase:
    return await seeded_then_upgraded(empty_db, "0001", seed_version_0001)


def users(database: TestDatabase) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in database.records("kavach_users")}


async def test_upgrading_gives_each_extra_account_of_one_provider_a_user_of_its_own(
    empty_db: TestDatabase,
) -> None:
    await upgrade_to(empty_db, "0001")
    seed_version_0001(empty_db)
    before = accounts(empty_db)

    await upgrade_to(empty_db, "head")

    after = accounts(empty_db)
    owners = {account_id: row["user_id"] for account_id, row in after.items()}
    assert owners["acct-first"] == SHARED, "the earliest-linked account stays"
    assert owners["acct-other-idp"] == SHARED, "another provider's account stays"
    assert owners["acct-grace"] == ORDINARY
    moved = {owners["acct-later"], owners["acct-latest"]}
    assert len(moved) == 2, "one new user each"
    assert not moved & {SHARED, ORDINARY}
    for account_id, row in after.items():
        kept = {column: row[column] for column in before[account_id]}
        assert {**kept, "user_id": None} == {**before[account_id], "user_id": None}, (
            "no token, scope or version is lost or changed"
        )
    people = users(empty_db)
    assert set(people) == {SHARED, ORDINARY, *moved}
    for user_id in moved:
        assert people[user_id]["email"] == "ada@example.com"
        assert people[user_id]["name"] == "Ada Lovelace"
        assert people[user_id]["email_verified"] is False, "whose email it was is not known"
    assert people[SHARED]["email_verified"] is True


async def test_upgrading_ends_the_sessions_of_a_user_that_was_split(
    upgraded_from_0001: TestDatabase,
) -> None:
    assert upgraded_from_0001.rows("SELECT user_id FROM kavach_sessions") == [(ORDINARY,)]


async def test_after_the_upgrade_a_user_cannot_hold_two_accounts_of_one_provider(
    upgraded_from_0001: TestDatabase,
) -> None:
    with pytest.raises(IntegrityError):
        add_account(upgraded_from_0001, "acct-new", ORDINARY, "atlassian", linked=ago(days=1))


async def test_upgrading_dates_each_grant_from_when_its_account_was_linked(
    upgraded_from_0001: TestDatabase,
) -> None:
    rows = upgraded_from_0001.records("kavach_accounts")
    assert len(rows) == 5
    for row in rows:
        assert row["granted_at"] == row["created_at"]


def seed_version_0007(database: TestDatabase) -> None:
    """Three accounts: reported a day ago, reported with a failed hook, never reported."""
    reported = ago(days=1)
    for number, (account_id, due) in enumerate(
        (
            ("acct-reported", reported + timedelta(days=7)),
            ("acct-hook-failed", reported + timedelta(seconds=1)),
            ("acct-new", None),
        )
    ):
        user_id = str(number) * 32
        add_user(database, user_id, f"{account_id}@example.com", account_id)
        database.execute(
            "INSERT INTO kavach_accounts (id, user_id, provider, provider_account_id, scopes, "
            "needs_reauth, token_version, profile_stale, granted_at, created_at, updated_at, "
            "privacy_reported_at, privacy_next_report_at) VALUES (:id, :user_id, 'atlassian', "
            ":id, 'read:me', false, 0, false, :linked, :linked, :linked, :at, :due)",
            id=account_id,
            user_id=user_id,
            linked=ago(days=30),
            at=None if due is None else reported,
            due=due,
        )


async def test_upgrading_keeps_each_last_report_and_leaves_a_failed_hook_due(
    empty_db: TestDatabase,
) -> None:
    await seeded_then_upgraded(empty_db, "0007", seed_version_0007)

    after = {row["id"]: row for row in empty_db.records("kavach_accounts")}
    assert after["acct-reported"]["privacy_reported_at"] is not None
    assert after["acct-reported"]["privacy_reported_at"] < ago(hours=23)
    assert after["acct-hook-failed"]["privacy_reported_at"] is None, "due at the next run"
    assert after["acct-new"]["privacy_reported_at"] is None
    assert {row["privacy_claimed_by"] for row in after.values()} == {None}
