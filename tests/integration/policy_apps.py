"""Apps for the hook, sign-in policy and scope tests: the emulator as Atlassian, and a side door.

`policy_app` builds the tests' app (``tests.support.apps``) with the options under test
(``hooks=``, ``allowed_sites=``...), signing in against an `AtlassianEmulator` in-process.
`row_counts` reads what a sign-in left in the database, so a test can say what was NOT written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser
from kavach_fastapi.testing import emulator_provider, emulator_transport

from ..databases import TestDatabase
from ..support.apps import build_app
from ..support.browser import AUTHORIZE, PREFIX
from .conftest import SECRET

__all__ = [
    "NOTHING",
    "PREFIX",
    "TABLES",
    "landing_query",
    "policy_app",
    "row_counts",
    "started",
    "try_sign_in",
]

TABLES = ("kavach_users", "kavach_accounts", "kavach_sessions")


def policy_app(
    database: TestDatabase,
    emulator: AtlassianEmulator,
    *,
    scopes: Sequence[str] = ("read:jira-user",),
    **options: Any,
) -> FastAPI:
    """The tests' app (the router at ``/api/kavach``, the user routes), with ``options``."""
    options.setdefault("secret", SECRET)
    options.setdefault("rate_limit", 0)
    return build_app(
        [emulator_provider(emulator, scopes=scopes)],
        database_url=database.url,
        http_transport=emulator_transport(emulator),
        **options,
    )


@contextmanager
def started(app: FastAPI) -> Iterator[TestClient]:
    """A client of the app, its lifespan run, redirects not followed."""
    with TestClient(app, follow_redirects=False) as client:
        yield client


def try_sign_in(
    client: TestClient,
    emulator: AtlassianEmulator,
    *,
    user: EmulatedUser | None = None,
    site_ids: list[str] | None = None,
    headers: dict[str, str] | None = None,
    authorize_url: str = AUTHORIZE,
) -> httpx2.Response:
    """Sign in through the emulator's consent and return the callback's answer, as it is."""
    started = client.get(authorize_url)
    assert started.status_code == 302, started.text
    callback = asyncio.run(
        emulator.approve(started.headers["location"], user=user, site_ids=site_ids)
    )
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}", headers=headers or {})


def landing_query(response: httpx2.Response) -> dict[str, str]:
    """The query of the page a callback sent the browser to."""
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {key: values[0] for key, values in query.items()}


def row_counts(database: TestDatabase) -> dict[str, int]:
    """How many users, accounts and sessions the database holds."""
    return {table: database.count(table) for table in TABLES}


NOTHING = dict.fromkeys(TABLES, 0)
"""The row counts of a database no sign-in finished in."""
