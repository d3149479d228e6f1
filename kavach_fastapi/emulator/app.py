"""The emulator's ASGI app: auth.atlassian.com and api.atlassian.com at one base URL."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kavach_fastapi.emulator.api import api_routes
from kavach_fastapi.emulator.authorize import authorize_routes
from kavach_fastapi.emulator.avatars import render_avatar_svg
from kavach_fastapi.emulator.consent import render_index_page
from kavach_fastapi.emulator.context import EmulatorContext
from kavach_fastapi.emulator.endpoints import API_ENDPOINTS
from kavach_fastapi.emulator.token import token_routes
from kavach_fastapi.emulator.web import api_error, base_url

__all__ = ["build_app"]

_AVATAR_HEADERS = {"Cache-Control": "public, max-age=3600"}
_AUTH_ENDPOINTS = (("GET", "/authorize"), ("POST", "/oauth/token"))


def build_app(context: EmulatorContext) -> Starlette:
    """Build the ASGI app of one emulator; its endpoints read the context's live state."""

    async def index(request: Request) -> Response:
        names = [client.name for client in context.clients.values()]
        endpoints = [*_AUTH_ENDPOINTS, *((e.method, e.path) for e in API_ENDPOINTS)]
        return HTMLResponse(render_index_page(base_url(request), names, endpoints))

    async def user_avatar(request: Request) -> Response:
        user = context.user(request.path_params["account_id"])
        return _avatar(None if user is None else (user.name, user.account_id), square=False)

    async def site_avatar(request: Request) -> Response:
        site = context.site(request.path_params["cloud_id"])
        return _avatar(None if site is None else (site.name, site.id), square=True)

    routes = [
        Route("/", index, methods=["GET"], name="index"),
        *authorize_routes(context),
        *token_routes(context),
        *api_routes(context),
        Route("/avatars/sites/{cloud_id}.svg", site_avatar, methods=["GET"], name="site_avatar"),
        Route("/avatars/{account_id}.svg", user_avatar, methods=["GET"], name="user_avatar"),
    ]
    return Starlette(routes=routes)


def _avatar(found: tuple[str, str] | None, *, square: bool) -> Response:
    """The initials picture of a person or site (its name and id), or a 404 like Atlassian's."""
    if found is None:
        return api_error(404, "Not Found")
    name, seed = found
    return Response(
        render_avatar_svg(name, seed, square=square),
        media_type="image/svg+xml",
        headers=_AVATAR_HEADERS,
    )
