"""A background job of the demo: read a person's Jira ``myself`` while they are not there.

    python -m example_app.job USER_ID                # beside `make demo`, from the same folder
    python -m example_app.job USER_ID --demo-url http://127.0.0.1:8011

``USER_ID`` is the ``id`` of ``/api/me`` (the demo page shows the whole command). The job uses
the demo's settings (``KAVACH_DATABASE_URL``, default ``kavach.db`` in the current folder, and its
key), so run it where the demo runs. Without ``ATLASSIAN_CLIENT_ID`` the demo's Atlassian is the
emulator inside the demo server, so the job reaches it at ``--demo-url`` while the demo runs;
with it, the job calls the real Atlassian.

Exit status: 0 when every site answered, 3 when the person must sign in again, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from kavach_fastapi import (
    AtlassianProvider,
    KavachError,
    ReauthRequiredError,
    atlassian_provider,
    open_kavach,
    sites_for_product,
)
from kavach_fastapi.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from .demo import DEMO_URL, EMULATOR_PATH

MYSELF = "/rest/api/3/myself"


def demo_provider(demo_url: str) -> AtlassianProvider:
    """The demo's Atlassian: the emulator in the demo server, or the real one when configured."""
    if os.environ.get("ATLASSIAN_CLIENT_ID"):
        return atlassian_provider(scopes=["read:jira-user"])
    emulator = f"{demo_url.rstrip('/')}{EMULATOR_PATH}"
    return atlassian_provider(
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        scopes=["read:jira-user"],
        auth_url=emulator,
        api_url=emulator,
    )


async def read_jira_myself(user_id: str, demo_url: str) -> int:
    """Print who Jira says the person is on each of their sites; the exit status."""
    async with open_kavach(providers=[demo_provider(demo_url)]) as kavach:
        atlassian = kavach.atlassian_client(user_id)
        try:
            sites = sites_for_product(await atlassian.sites(), "jira")
            status = 0
            if not sites:
                print("The person granted this app no Jira site.")
            for site in sites:
                response = await atlassian.get("jira", site.id, MYSELF)
                if response.status_code == 200:
                    print(f"{site.name}: Jira knows you as {response.json()['displayName']}")
                else:
                    print(f"{site.name}: Jira answered {response.status_code}")
                    status = 1
        except ReauthRequiredError:
            print(
                "Atlassian no longer accepts this person's grant: they must sign in again.",
                file=sys.stderr,
            )
            return 3
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m example_app.job", description=__doc__)
    parser.add_argument("user_id", help="the person's user id (the id of /api/me)")
    parser.add_argument(
        "--demo-url", default=DEMO_URL, help=f"where the demo is served (default {DEMO_URL})"
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(read_jira_myself(args.user_id, args.demo_url))
    except KavachError as exc:
        print(f"job: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
