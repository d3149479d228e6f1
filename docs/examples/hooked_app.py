from fastapi import FastAPI
from sign_in_hooks import hooks

from kavach_fastapi import atlassian_provider, kavach_router

app = FastAPI()
app.include_router(
    kavach_router([atlassian_provider()], hooks=hooks),
    prefix="/api/kavach",
)
