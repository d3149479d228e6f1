"""Over-long profile fields from Atlassian never break the callback (PostgreSQL enforces lengths).

SQLite keeps a string of any length in a ``VARCHAR(500)``; PostgreSQL refuses it, which used to
end the callback in a 500. A name longer than its column is cut; an email or a picture URL too
long to keep is not kept (cut, it would be a wrong address); an account id too long to be
Atlassian's refuses the sign-in, with nothing written. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser
from kavach_fastapi.tables import MAX_NAME_LENGTH

from ..databases import TestDatabase
from .policy_apps import NOTHING, landing_query, policy_app, row_counts, started, try_sign_in

LONG_NAME = "Ada " + "Augusta " * 100  # 804 characters
LONG_EMAIL = "a" * 310 + "@example.com"  # 322 characters, over RFC 5321's 320
LONG_PICTURE = "https://avatars.example/" + "p" * 3000


def test_a_long_name_is_cut_and_a_long_email_and_picture_are_not_kept(db: TestDatabase) -> None:
    person = EmulatedUser(
        account_id="712020:0d6f0a58-0000-4000-8000-00000000abcd",
        name=LONG_NAME,
        email=LONG_EMAIL,
        picture=LONG_PICTURE,
    )
    emulator = AtlassianEmulator(users=[person])
    with started(policy_app(db, emulator)) as client:
        assert landing_query(try_sign_in(client, emulator)) == {}
        me = client.get("/me").json()

    assert me["name"] == LONG_NAME[:MAX_NAME_LENGTH]
    assert me["email"] is None
    assert me["email_verified"] is False
    assert me["image"] is None


def test_an_account_id_too_long_to_be_atlassians_refuses_the_sign_in_cleanly(
    db: TestDatabase,
) -> None:
    emulator = AtlassianEmulator(
        users=[EmulatedUser(account_id="557058:" + "f" * 300, name="Odd", email="odd@example.com")]
    )
    with started(policy_app(db, emulator)) as client:
        answer = try_sign_in(client, emulator)
    assert landing_query(answer) == {"error": "profile_fetch_failed"}
    assert row_counts(db) == NOTHING
