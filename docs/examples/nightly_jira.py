"""Nightly, from cron: who each person is on each of their Jira sites, asked as them.

Run it with the app's environment (the same KAVACH_DATABASE_URL, KAVACH_SECRET and
ATLASSIAN_* settings), with the user ids your app keeps for people who turned the job on:

    python nightly_jira.py USER_ID [USER_ID ...]
"""

import asyncio
import logging
import sys

from kavach_fastapi import (
    OfflineKavach,
    ReauthRequiredError,
    RefreshRefusedError,
    RetryLaterError,
    open_kavach,
    sites_for_product,
)

log = logging.getLogger("nightly_jira")


async def sync_person(kavach: OfflineKavach, user_id: str) -> str:
    """One person's part of the job; what happened, in a word."""
    atlassian = kavach.atlassian_client(user_id)
    try:
        for site in sites_for_product(await atlassian.sites(), "jira"):
            response = await atlassian.get("jira", site.id, "/rest/api/3/myself")
            if response.status_code == 200:
                # Your job's real work goes here: store, sync, post...
                log.info(
                    "%s is %s on %s",
                    user_id,
                    response.json()["displayName"],
                    site.name,
                )
    except ReauthRequiredError:
        # The grant is gone (revoked, unused for 90 days, a year old). Retrying never helps:
        # ask the person to sign in again, e.g. by email, and skip them until they do.
        return "needs consent"
    except RetryLaterError:
        return "try again later"  # Atlassian or the database was out of reach for a while
    except RefreshRefusedError:
        return "check the app's Atlassian credentials"  # the log has Atlassian's answer
    return "done"


async def main(user_ids: list[str]) -> int:
    """The whole run; its exit status for cron (1 when someone must be looked at)."""
    async with open_kavach() as kavach:  # the app's settings, from the environment
        outcomes = {
            user_id: await sync_person(kavach, user_id) for user_id in user_ids
        }
    for user_id, outcome in outcomes.items():
        print(f"{user_id}: {outcome}")
    return 0 if set(outcomes.values()) <= {"done"} else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
