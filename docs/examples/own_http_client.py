"""Handing the person's Atlassian access token to an HTTP client of your own."""

from typing import Any

import httpx2
from fastapi import APIRouter, HTTPException

from kavach_fastapi import (
    AtlassianSettings,
    AtlassianSites,
    AtlassianToken,
    find_site,
)

router = APIRouter()


@router.get("/jira/{cloud_id}/myself-by-hand")
async def jira_myself_by_hand(
    cloud_id: str, token: AtlassianToken, sites: AtlassianSites
) -> Any:
    """What `AtlassianAPI` does for you, written out: check the site, then call `/ex/jira/...`."""
    if find_site(sites, cloud_id=cloud_id) is None:
        raise HTTPException(404, detail="That is not one of your Atlassian sites.")
    api_url = (
        AtlassianSettings().api_url
    )  # ATLASSIAN_API_URL, https://api.atlassian.com
    async with httpx2.AsyncClient(base_url=api_url, timeout=10) as client:
        response = await client.get(
            f"/ex/jira/{cloud_id}/rest/api/3/myself",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
            },
        )
    if response.status_code != 200:
        raise HTTPException(502, detail=f"Jira answered {response.status_code}.")
    return response.json()
