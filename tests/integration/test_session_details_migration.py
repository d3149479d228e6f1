"""Migration 0004: sessions signed in before it get a public id of their own and stay valid.

From an empty database (a SQLite file, and a PostgreSQL database of its own) at revision 0002
with sessions in it, upgraded to the newest revision with the package's own ``upgrade``.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy.exc import IntegrityError

from kavach_fastapi.store import Store
from kavach_fastapi.tables import utcnow

from ..databases import TestDatabase, ago
from .test_migrations import add_session, add_user, seeded_then_upgraded, upgrade_to

ADA = "a" * 32
GRACE = "b" * 32
HASHES = ("s" * 64, "t" * 64, "u" * 64)


def seed_sessions_at_0002(database: TestDatabase) -> None:
    add_user(database, ADA, "ada@example.com", "Ada Lovelace")
    add_user(database, GRACE, "grace@example.com", "Grace Hopper")
    add_session(database, HASHES[0], ADA)
    add_session(database, HASHES[1], ADA)
    add_session(database, HASHES[2], GRACE)


async def test_upgrading_gives_every_existing_session_its_own_random_public_id(
    empty_db: TestDatabase,
) -> None:
    await upgrade_to(empty_db, "0002")
    seed_sessions_at_0002(empty_db)
    before = {
        token_hash: times
        for token_hash, *times in empty_db.rows(
            "SELECT token_hash, created_at, last_active_at, expires_at FROM kavach_sessions"
        )
    }

    await upgrade_to(empty_db, "head")

    after = empty_db.records("kavach_sessions")
    ids = [row["public_id"] for row in after]
    assert len(set(ids)) == len(HASHES)
    for row in after:
        assert re.fullmatch(r"[0-9a-f]{32}", row["public_id"])
        assert row["public_id"] not in row["token_hash"]
        assert (row["user_agent"], row["network"]) == (None, None)
        kept = [row["created_at"], row["last_active_at"], row["expires_at"]]
        assert [str(value.replace(tzinfo=None)) for value in kept] == [
            str(value) for value in before[row["token_hash"]]
        ]


async def test_sessions_from_before_the_upgrade_can_be_listed_and_ended(
    empty_db: TestDatabase,
) -> None:
    await seeded_then_upgraded(empty_db, "0002", seed_sessions_at_0002)
    store = Store(empty_db.url)
    try:
        now = utcnow()
        listed = await store.sessions.sessions_of(ADA, now=now, idle_before=ago(days=1))
        ended = await store.sessions.end_session_of(ADA, listed[0].public_id)
    finally:
        await store.dispose()

    assert {record.token_hash for record in listed} == set(HASHES[:2])
    assert ended == listed[0].token_hash
    assert empty_db.count("kavach_sessions") == 2


async def test_after_the_upgrade_two_sessions_cannot_share_a_public_id(
    empty_db: TestDatabase,
) -> None:
    await upgrade_to(empty_db, "head")
    add_user(empty_db, ADA, "ada@example.com", "Ada Lovelace")
    insert = (
        "INSERT INTO kavach_sessions (token_hash, public_id, user_id, created_at, expires_at, "
        "last_active_at) VALUES (:hash, :id, :user_id, :at, :at, :at)"
    )
    empty_db.execute(insert, hash=HASHES[0], id="c" * 32, user_id=ADA, at=utcnow())

    with pytest.raises(IntegrityError):
        empty_db.execute(insert, hash=HASHES[1], id="c" * 32, user_id=ADA, at=utcnow())
