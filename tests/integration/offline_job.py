"""A background job in a process of its own, configured by the environment like the app.

    python -m tests.integration.offline_job USER_ID

It opens kavach with ``open_kavach()`` (no options: ``KAVACH_*`` and ``ATLASSIAN_*`` from the
environment), prints ``ready``, waits for a line on standard input, so that a test can start it
at the same moment as requests to the app, then asks for the person's Atlassian token and
prints ``{"token": ...}`` or ``{"error": "reauth_required"}`` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from kavach_fastapi import ReauthRequiredError, open_kavach


async def run(user_id: str) -> None:
    async with open_kavach() as kavach:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        try:
            answer = {"token": await kavach.atlassian_token(user_id)}
        except ReauthRequiredError as exc:
            answer = {"error": exc.code.value}
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1]))
