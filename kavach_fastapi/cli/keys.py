"""``kavach keys rotate``: every stored token re-encrypted with the newest key."""

from __future__ import annotations

import argparse
from typing import TextIO

from ..crypto import Keyring
from ..database_urls import describe_database
from ..keyfile import resolve_secret_keys
from ..keys import KeyRotation
from ..store import Store
from ._common import require_schema, settings_of


async def run_rotate(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_of(args)
    store = Store.from_settings(settings)

    def progress(done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            print(f"  {done}/{total} accounts checked ...", file=out, flush=True)

    try:
        # Before the keys: a database that is not ready must not get a key file made for it.
        await require_schema(store.database)
        keys = resolve_secret_keys(settings)
        if len(keys) < 2:
            print(
                "Note: KAVACH_SECRET holds one key. To rotate, put the new key first and keep "
                "the old one after it (NEW,OLD), run this, then remove the old key.",
                file=out,
            )
        print(f"Re-encrypting in {describe_database(settings.database_url)} ...", file=out)
        changed = await KeyRotation(store.accounts, Keyring(keys)).rotate(progress=progress)
    finally:
        await store.dispose()
    print(f"Re-encrypted the tokens of {changed} accounts with the newest key.", file=out)
    return 0
