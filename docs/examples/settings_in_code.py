from datetime import timedelta

from fastapi import FastAPI

from kavach_fastapi import atlassian_provider, kavach_router

app = FastAPI()
provider = atlassian_provider(scopes=["read:jira-user", "read:jira-work"])
router = kavach_router(
    providers=[provider],
    session_lifetime=timedelta(days=1),  # instead of KAVACH_SESSION_LIFETIME
    trusted_origins=[
        "https://reports.example.com"
    ],  # instead of KAVACH_TRUSTED_ORIGINS
)
app.include_router(router, prefix="/api/kavach")
