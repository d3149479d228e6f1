"""Key rotation never loses a refresh: re-encrypting is a compare-and-swap on ``token_version``.

``kavach keys rotate`` reads each account, re-encrypts its tokens with the newest key and writes
them back. A refresh that commits between that read and that write must win: writing the stale
copy back would restore the refresh token Atlassian just retired, and once its 10-minute reuse
interval is over the whole grant dies. Rotation writes only if the row is still at the version it
read, and otherwise reads it again.

The race is driven deterministically: the refresh's write (of a worker that still runs with the
old key) is held open in a transaction of the test's own while the rotation runs, and committed
once the rotation has read the row and waits to write it. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from kavach_fastapi.crypto import Keyring, TokenOwner, open_token, seal_tokens
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.oauth import TokenSet
from kavach_fastapi.store import Store
from kavach_fastapi.tables import utcnow
from tests.databases import TestDatabase
from tests.emulator.flow import flow_for
from tests.integration.conftest import SECRET
from tests.integration.token_harness import (
    OTHER_SECRET,
    build_harness,
    expire_access_token,
    live_refresh_tokens,
    running,
    sign_in,
    the_account,
    token_of,
)

OLD_KEY, NEW_KEY = SECRET, OTHER_SECRET


async def refresh_at_atlassian(emu: AtlassianEmulator) -> TokenSet:
    """What another worker's refresh got from Atlassian: the grant's new token pair."""
    (refresh_token,) = live_refresh_tokens(emu)
    async with flow_for(emu) as atlassian:
        answer = await atlassian.refresh(refresh_token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=utcnow() + timedelta(seconds=body["expires_in"]),
        scopes=tuple(body["scope"].split()),
    )


async def wait_until_blocked(db: TestDatabase, rotation: asyncio.Task[int]) -> None:
    """Return once the rotation waits for the row the test holds (it has read it by then)."""
    deadline = time.monotonic() + 15
    while True:
        assert not rotation.done(), "the rotation wrote past a row another transaction holds"
        if db.kind == "postgresql":
            waiting = db.scalar("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if waiting:
                return
        elif time.monotonic() > deadline - 14:
            return  # SQLite shows no waiters; a second is ample to reach the write lock
        assert time.monotonic() < deadline, "the rotation never tried to write"
        await asyncio.sleep(0.05)


def owner(account: dict[str, Any]) -> TokenOwner:
    return TokenOwner(account["provider"], account["provider_account_id"], account["id"])


def opened(keyring: Keyring, sealed: str, account: dict[str, Any], column: str) -> str:
    return open_token(keyring, sealed, owner(account), column)


async def test_a_refresh_committed_while_keys_rotate_is_never_overwritten(
    db: TestDatabase,
) -> None:
    emu = AtlassianEmulator()
    old = build_harness(db, emu, secret=OLD_KEY)
    async with running(old.app) as client:
        session = await sign_in(client, emu)
    account = the_account(db)
    account_id = account["id"]
    refreshed = await refresh_at_atlassian(emu)
    sealed = seal_tokens(Keyring([OLD_KEY]), refreshed, owner(account))

    rotating = build_harness(db, emu, secret=f"{NEW_KEY},{OLD_KEY}")
    async with running(rotating.app):
        with db.engine.connect() as held:
            refresh_write = held.begin()
            held.execute(
                text(
                    "UPDATE kavach_accounts SET access_token = :access, refresh_token = :refresh,"
                    " token_version = token_version + 1 WHERE id = :id"
                ),
                {"access": sealed.access_token, "refresh": sealed.refresh_token, "id": account_id},
            )
            rotation = asyncio.create_task(rotating.router.kavach.rotate_keys())
            await wait_until_blocked(db, rotation)
            refresh_write.commit()
        changed = await asyncio.wait_for(rotation, timeout=30)

    assert changed == 1
    row = the_account(db)
    new_key = Keyring([NEW_KEY])
    assert opened(new_key, row["refresh_token"], account, "refresh_token") == (
        refreshed.refresh_token
    )
    assert opened(new_key, row["access_token"], account, "access_token") == (refreshed.access_token)

    # The old key can go: the stored refresh token is the live one, sealed with the new key.
    only_new = build_harness(db, emu, secret=NEW_KEY)
    async with running(only_new.app) as client:
        client.headers["Authorization"] = f"Bearer {session}"
        expire_access_token(db)
        await token_of(client)
    assert emu.last_request["refresh"].form["refresh_token"] == refreshed.refresh_token
    assert not the_account(db)["needs_reauth"]


async def test_resealing_tokens_that_moved_on_since_they_were_read_writes_nothing(
    db: TestDatabase,
) -> None:
    harness = build_harness(db)
    store = Store(db.url)
    try:
        async with running(harness.app) as client:
            await sign_in(client, harness.emu)
            read = await store.accounts.get_account(the_account(db)["id"])
            assert read is not None
            expire_access_token(db)
            await token_of(client)  # a refresh commits between the read and the write
            after_refresh = the_account(db)

            written = await store.accounts.reseal_account(
                read.id,
                version=read.token_version,
                access_token=read.access_token,
                refresh_token=read.refresh_token,
            )
    finally:
        await store.dispose()

    assert written is False
    assert the_account(db) == after_refresh
