"""A page that sends the person to consent again when the Atlassian grant is gone."""

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import URL

from kavach_fastapi import AtlassianAPI, ReauthRequiredError

router = APIRouter()


@router.get("/pages/jira/{cloud_id}", response_class=HTMLResponse)
async def jira_page(
    cloud_id: str, request: Request, atlassian: AtlassianAPI
) -> Response:
    """An HTML page about the person's Jira account, for browsers."""
    try:
        response = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
    except ReauthRequiredError as exc:
        # Still signed in to this app; only Atlassian's consent is missing. Ask for it again
        # and come back to this very page afterwards.
        consent = URL(
            exc.reauth_url
            or str(request.url_for("kavach_authorize", provider="atlassian"))
        )
        target = consent.include_query_params(redirect_to=request.url.path)
        return RedirectResponse(str(target), status_code=303)
    name = escape(response.json().get("displayName", "someone"))
    return HTMLResponse(f"<p>Jira knows you as {name}.</p>")
