"""An internal tool: only people who can reach the company's Atlassian site may sign in."""

from fastapi import FastAPI

from kavach_fastapi import (
    AtlassianSites,
    CurrentUser,
    atlassian_provider,
    kavach_router,
)

app = FastAPI()
app.include_router(
    kavach_router(
        [atlassian_provider(scopes=["read:jira-work"])],
        allowed_sites=["https://acme-eng.atlassian.net"],  # or its cloud id
    ),
    prefix="/api/kavach",
)


@app.get("/api/whoami")
async def whoami(user: CurrentUser, sites: AtlassianSites) -> dict[str, object]:
    return {"name": user.name, "sites": [site.name for site in sites]}
