"""``kavach check``: what is missing, the callback URL to register, and what Atlassian may refuse.

Atlassian refuses an unknown scope, or one not enabled for the app, on its own error page at
``/authorize``, and the app never hears of it; so the check warns beforehand about scopes
Atlassian's published lists do not have (`kavach_fastapi.atlassian.scopes`) and about a
consent URL long enough for a browser or proxy to refuse.
"""

from __future__ import annotations

import argparse
from typing import TextIO
from urllib.parse import urlencode

from ..atlassian.scopes import scope_warnings
from ..database import Database
from ..database_urls import describe_database, is_sqlite
from ..errors import ConfigurationError, KavachError
from ..migrate import head_revision, schema_behind, schema_revision, upgrades_at_start
from ..providers.atlassian import ATLASSIAN_AUDIENCE
from ..providers.base import merge_scopes
from ..settings import DEFAULT_ATLASSIAN_SCOPES, AtlassianSettings, KavachSettings, load_settings
from ._common import NOTHING_CHANGED, settings_of

CALLBACK_SUFFIX = "/auth/oauth/callback/atlassian"
DEFAULT_MOUNT_URL = "http://127.0.0.1:8000/api/kavach"

MAX_AUTHORIZE_URL_LENGTH = 2048
"""A consent URL longer than this draws a warning: Atlassian documents no limit, but URLs past
2048 characters are refused by some browsers, proxies and firewalls."""

_STATE_LENGTH = 43  # a 32-byte state or PKCE challenge, base64url without padding


def authorize_url_length(atlassian: AtlassianSettings, callback_url: str) -> int:
    """How long the consent URL of a sign-in is with these settings (its state and PKCE
    challenge have fixed lengths)."""
    query = {
        "response_type": "code",
        "client_id": atlassian.client_id or "x" * 32,
        "redirect_uri": callback_url,
        "scope": " ".join(merge_scopes(DEFAULT_ATLASSIAN_SCOPES, atlassian.scopes)),
        "state": "x" * _STATE_LENGTH,
        "code_challenge": "x" * _STATE_LENGTH,
        "code_challenge_method": "S256",
        "audience": ATLASSIAN_AUDIENCE,
        "prompt": "consent",
    }
    return len(f"{atlassian.auth_url}/authorize?{urlencode(query)}")


def _atlassian_warnings(atlassian: AtlassianSettings, callback_url: str) -> list[str]:
    warnings = scope_warnings(merge_scopes(DEFAULT_ATLASSIAN_SCOPES, atlassian.scopes))
    length = authorize_url_length(atlassian, callback_url)
    if length > MAX_AUTHORIZE_URL_LENGTH:
        warnings.append(
            f"The consent URL would be {length} characters long (over "
            f"{MAX_AUTHORIZE_URL_LENGTH}): some browsers and proxies refuse such URLs. Request "
            "fewer scopes (a classic scope covers many granular ones) or shorten the callback URL."
        )
    return warnings


def _atlassian_settings() -> tuple[AtlassianSettings | None, list[str]]:
    try:
        atlassian = load_settings(AtlassianSettings)
    except ConfigurationError as exc:
        return None, [exc.message]
    problems = []
    if not atlassian.client_id:
        problems.append("ATLASSIAN_CLIENT_ID is not set (the 3LO app's client id).")
    if not atlassian.client_secret:
        problems.append("ATLASSIAN_CLIENT_SECRET is not set (the 3LO app's secret).")
    return atlassian, problems


async def _database_problems(settings: KavachSettings, out: TextIO) -> list[str]:
    try:
        database = Database.from_settings(settings)
    except ConfigurationError as exc:
        return [exc.message]
    try:
        # Reads only: checking never creates the SQLite file or its key file.
        current = await schema_revision(database)
    except KavachError as exc:
        return [exc.message]
    finally:
        await database.dispose()
    if current == head_revision():
        return []
    if upgrades_at_start(settings):
        made = "creates kavach's tables" if current is None else "upgrades kavach's tables"
        print(f"Schema: the app {made} as it starts (KAVACH_AUTO_MIGRATE).", file=out)
        return []
    return [schema_behind(database, current, NOTHING_CHANGED)]


async def run_check(args: argparse.Namespace, out: TextIO) -> int:
    atlassian, problems = _atlassian_settings()
    settings: KavachSettings | None = None
    try:
        settings = settings_of(args)
    except ConfigurationError as exc:
        problems.append(exc.message)
    mount = args.base_url or (settings.base_url if settings else None)
    print("Callback URL to register in Atlassian's developer console", file=out)
    print("(https://developer.atlassian.com/console/myapps/ > your app > Authorization):", file=out)
    callback_url = f"{(mount or DEFAULT_MOUNT_URL).rstrip('/')}{CALLBACK_SUFFIX}"
    print(f"  {callback_url}", file=out)
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
        problems += await _database_problems(settings, out)
    warnings = _atlassian_warnings(atlassian, callback_url) if atlassian is not None else []
    if warnings:
        print("\nWarnings:", file=out)
        for warning in warnings:
            print(f"  - {warning}", file=out)
    if problems:
        print("\nTo fix:", file=out)
        for problem in problems:
            print(f"  - {problem}", file=out)
        return 1
    print("\nEverything needed is set.", file=out)
    return 0
