"""``kavach db upgrade`` and ``kavach db current``: the schema."""

from __future__ import annotations

import argparse
from typing import TextIO

from ..database import Database
from ..database_urls import describe_database
from ..migrate import head_revision, reaching, schema_revision, upgrade
from ._common import settings_of


async def run_upgrade(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_of(args)
    database = Database.from_settings(settings)
    try:
        print(f"Upgrading {describe_database(settings.database_url)} ...", file=out)
        async with reaching(database):
            before, after = await upgrade(database.writer)
    finally:
        await database.dispose()
    if before == after:
        print(f"Already at the newest revision ({after}).", file=out)
    else:
        print(f"Upgraded from {before or '(empty)'} to {after}.", file=out)
    return 0


async def run_current(args: argparse.Namespace, out: TextIO) -> int:
    settings = settings_of(args)
    database = Database.from_settings(settings)
    try:
        current = await schema_revision(database)
    finally:
        await database.dispose()
    head = head_revision()
    state = "up to date" if current == head else "behind: run `kavach db upgrade`"
    print(f"Database {describe_database(settings.database_url)}:", file=out)
    print(f"  revision {current or '(none)'}, newest {head}: {state}.", file=out)
    return 0 if current == head else 1
