"""A route that needs more than the configured scopes asks for them when it is used."""

from fastapi import APIRouter, Depends

from kavach_fastapi import AtlassianAPI, require_atlassian_scopes

router = APIRouter()


@router.post(
    "/jira/{cloud_id}/issues",
    dependencies=[Depends(require_atlassian_scopes("write:jira-work"))],
)
async def create_issue(cloud_id: str, atlassian: AtlassianAPI) -> dict[str, str]:
    body = {"fields": {"project": {"key": "OPS"}, "summary": "Filed from the app"}}
    response = await atlassian.post(
        "jira", cloud_id, "/rest/api/3/issue", json=body
    )
    return {"status": str(response.status_code)}
