"""``kavach check``: what is missing, and the callback URL to register."""

from __future__ import annotations

import argparse
from typing import TextIO

from ..database_urls import describe_database, is_sqlite
from ..errors import ConfigurationError, KavachError
from ..settings import AtlassianSettings, KavachSettings, load_settings
from ._common import database_of, require_schema, settings_of

CALLBACK_SUFFIX = "/auth/oauth/callback/atlassian"
DEFAULT_MOUNT_URL = "http://127.0.0.1:8000/api/kavach"


def _atlassian_problems() -> list[str]:
    try:
        atlassian = load_settings(AtlassianSettings)
    except ConfigurationError as exc:
        return [exc.message]
    problems = []
    if not atlassian.client_id:
        problems.append("ATLASSIAN_CLIENT_ID is not set (the 3LO app's client id).")
    if not atlassian.client_secret:
        problems.append("ATLASSIAN_CLIENT_SECRET is not set (the 3LO app's secret).")
    return problems


async def _database_problems(settings: KavachSettings) -> list[str]:
    try:
        database = database_of(settings)
    except ConfigurationError as exc:
        return [exc.message]
    try:
        # Reads only: checking never creates the SQLite file or its key file.
        await require_schema(database)
    except KavachError as exc:
        return [exc.message]
    finally:
        await database.dispose()
    return []


async def run_check(args: argparse.Namespace, out: TextIO) -> int:
    problems = _atlassian_problems()
    settings: KavachSettings | None = None
    try:
        settings = settings_of(args)
    except ConfigurationError as exc:
        problems.append(exc.message)
    mount = args.base_url or (settings.base_url if settings else None)
    print("Callback URL to register in Atlassian's developer console", file=out)
    print("(https://developer.atlassian.com/console/myapps/ > your app > Authorization):", file=out)
    print(f"  {(mount or DEFAULT_MOUNT_URL).rstrip('/')}{CALLBACK_SUFFIX}", file=out)
    if not mount:
        print(
            "  (KAVACH_BASE_URL is not set: this assumes the router is mounted at /api/kavach "
            "on http://127.0.0.1:8000; set KAVACH_BASE_URL to your public URL.)",
            file=out,
        )
    if settings is not None:
        print(f"Database: {describe_database(settings.database_url)}", file=out)
        if not settings.secret_keys and is_sqlite(settings.database_url):
            print("KAVACH_SECRET is not set: a key file is kept beside the SQLite file.", file=out)
        elif not settings.secret_keys:
            problems.append("KAVACH_SECRET is not set; it is required for this database.")
        problems += await _database_problems(settings)
    if problems:
        print("\nTo fix:", file=out)
        for problem in problems:
            print(f"  - {problem}", file=out)
        return 1
    print("\nEverything needed is set.", file=out)
    return 0
