"""A background job that waits out Atlassian's quota instead of failing or retrying in a loop."""

from dataclasses import dataclass

from kavach_fastapi import AtlassianClient, QuotaExhaustedError


@dataclass
class Outcome:
    """What the job found, or when to run it again."""

    display_name: str | None = None
    retry_in: int | None = None
    """Seconds to wait when the site's quota is used up (every worker is waiting too)."""


async def refresh_display_name(
    atlassian: AtlassianClient, cloud_id: str
) -> Outcome:
    """Read the person's Jira name; reschedule when Atlassian's quota says to wait."""
    try:
        response = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
    except QuotaExhaustedError as exc:
        return Outcome(
            retry_in=exc.retry_after
        )  # hand it to your job queue's delay
    return Outcome(display_name=response.json().get("displayName"))
