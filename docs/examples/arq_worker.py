"""An ARQ worker whose tasks act for people: kavach opened once for the worker's life.

arq arq_worker.WorkerSettings
"""

import contextlib
from typing import Any

from kavach_fastapi import ReauthRequiredError, open_kavach, sites_for_product


async def startup(ctx: dict[str, Any]) -> None:
    ctx["stack"] = contextlib.AsyncExitStack()
    ctx["kavach"] = await ctx["stack"].enter_async_context(open_kavach())


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["stack"].aclose()


async def jira_names(ctx: dict[str, Any], user_id: str) -> list[str] | None:
    """A task: the person's display name on each Jira site; ``None`` if they must sign in."""
    atlassian = ctx["kavach"].atlassian_client(user_id)
    try:
        sites = sites_for_product(await atlassian.sites(), "jira")
        answers = [
            await atlassian.get("jira", site.id, "/rest/api/3/myself")
            for site in sites
        ]
    except ReauthRequiredError:
        return None  # retrying never helps; tell the person instead
    return [
        answer.json()["displayName"]
        for answer in answers
        if answer.status_code == 200
    ]


class WorkerSettings:
    functions = (jira_names,)
    on_startup = startup
    on_shutdown = shutdown
