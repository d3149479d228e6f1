from fastapi import FastAPI

from kavach_fastapi import CurrentUser, User, atlassian_provider, kavach_router

app = FastAPI()
router = kavach_router(providers=[atlassian_provider()], landing_url="/me")
app.include_router(router, prefix="/api/kavach")


@app.get("/me")
async def me(user: CurrentUser) -> User:
    return user
