"""Calling Jira and Confluence as the signed-in person, with the authorised client."""

from typing import Any

from fastapi import APIRouter, HTTPException

from kavach_fastapi import AtlassianAPI

router = APIRouter()


@router.get("/jira/{cloud_id}/myself")
async def jira_myself(cloud_id: str, atlassian: AtlassianAPI) -> Any:
    """The signed-in person as Jira on one of their sites knows them."""
    response = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
    if response.status_code != 200:
        raise HTTPException(502, detail=f"Jira answered {response.status_code}.")
    return response.json()


@router.get("/confluence/{cloud_id}/spaces")
async def confluence_spaces(cloud_id: str, atlassian: AtlassianAPI) -> list[str]:
    """The names of the first Confluence spaces the person can see on one of their sites."""
    response = await atlassian.get(
        "confluence", cloud_id, "/wiki/api/v2/spaces", params={"limit": 25}
    )
    if response.status_code != 200:
        raise HTTPException(
            502, detail=f"Confluence answered {response.status_code}."
        )
    return [space["name"] for space in response.json()["results"]]


@router.get("/confluence/{cloud_id}/pages/{page_id}")
async def confluence_page(
    cloud_id: str, page_id: str, atlassian: AtlassianAPI
) -> Any:
    """One Confluence page, by an id that came from the person (so it goes in path_params)."""
    response = await atlassian.get(
        "confluence",
        cloud_id,
        "/wiki/api/v2/pages/{id}",
        path_params={"id": page_id},
    )
    if response.status_code == 404:
        raise HTTPException(404, detail="No such page.")
    return {"title": response.json()["title"]}
