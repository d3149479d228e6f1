"""The api.atlassian.com half: ``/me``, accessible resources and Jira's ``myself``.

Every endpoint needs a live Bearer access token. A missing, unknown, expired or revoked
token answers ``401 {"code": 401, "message": "Unauthorized"}``; a token without the
scope an endpoint needs answers ``401 ... "Unauthorized; scope does not match"``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kavach_fastapi.emulator.avatars import site_avatar_url, user_avatar_url
from kavach_fastapi.emulator.config import EmulatedSite, EmulatedUser
from kavach_fastapi.emulator.state import AccessToken, Grant
from kavach_fastapi.emulator.web import api_error, apply_faults, base_url, bearer_token, record

if TYPE_CHECKING:
    from kavach_fastapi.emulator.emulator import AtlassianEmulator

__all__ = ["api_routes", "scopes_for_site"]

_SCOPE_MISMATCH = "Unauthorized; scope does not match"
_JIRA_READ_SCOPES = frozenset({"read:jira-user", "read:jira-work"})


def scopes_for_site(scopes: tuple[str, ...], site: EmulatedSite) -> list[str]:
    """Return the granted scopes that apply to a site's products.

    A scope applies when one of its words names a product the site runs, so
    ``read:jira-work`` applies to a Jira site and ``read:confluence-user`` to a
    Confluence site, while ``read:me`` and ``offline_access`` apply to none.
    """
    return [
        scope
        for scope in scopes
        if any(product in re.split(r"[:.\-]", scope) for product in site.products)
    ]


def api_routes(emulator: AtlassianEmulator) -> list[Route]:
    """Return the api.atlassian.com routes, bound to one emulator."""

    async def authenticated(
        request: Request, endpoint: str
    ) -> tuple[AccessToken, Grant, EmulatedUser] | Response:
        record(emulator.state, (endpoint,), request)
        faulted = await apply_faults(emulator.faults, (endpoint,), "api", emulator.clock)
        if faulted is not None:
            return faulted
        token = bearer_token(request)
        found = emulator.grants.authenticate(token) if token is not None else None
        if found is None:
            return api_error(401, "Unauthorized")
        access, grant = found
        user = next((u for u in emulator.users if u.account_id == grant.account_id), None)
        if user is None:
            return api_error(401, "Unauthorized")
        return access, grant, user

    async def me(request: Request) -> Response:
        found = await authenticated(request, "me")
        if isinstance(found, Response):
            return found
        access, _grant, user = found
        if "read:me" not in access.scopes:
            return api_error(401, _SCOPE_MISMATCH)
        profile: dict[str, object] = {
            "account_type": user.account_type,
            "account_id": user.account_id,
        }
        if user.email is not None:
            profile["email"] = user.email
        if user.email_verified is not None:
            profile["email_verified"] = user.email_verified
        profile.update(
            {
                "name": user.name,
                "picture": user_avatar_url(user, base_url(request)),
                "account_status": user.account_status,
                "nickname": user.nickname,
                "zoneinfo": user.zoneinfo,
                "locale": user.locale,
                "extended_profile": dict(user.extended_profile),
            }
        )
        return JSONResponse(profile)

    async def accessible_resources(request: Request) -> Response:
        found = await authenticated(request, "accessible_resources")
        if isinstance(found, Response):
            return found
        access, grant, _user = found
        base = base_url(request)
        sites = {site.id: site for site in emulator.sites}
        resources = [
            {
                "id": site.id,
                "name": site.name,
                "url": site.url,
                "scopes": scopes_for_site(access.scopes, site),
                "avatarUrl": site_avatar_url(site, base),
            }
            for site in (sites[site_id] for site_id in grant.site_ids if site_id in sites)
        ]
        return JSONResponse(resources)

    async def jira_myself(request: Request) -> Response:
        found = await authenticated(request, "jira_myself")
        if isinstance(found, Response):
            return found
        access, grant, user = found
        cloud_id = request.path_params["cloud_id"]
        site = next((s for s in emulator.sites if s.id == cloud_id), None)
        if site is None:
            return api_error(404, "Not Found")
        if site.id not in grant.site_ids or not _JIRA_READ_SCOPES.intersection(
            scopes_for_site(access.scopes, site)
        ):
            return api_error(401, _SCOPE_MISMATCH)
        base = base_url(request)
        picture = user_avatar_url(user, base)
        myself: dict[str, object] = {
            "self": (
                f"{base}/ex/jira/{site.id}/rest/api/3/user?accountId={quote(user.account_id)}"
            ),
            "accountId": user.account_id,
            "accountType": user.account_type,
        }
        if user.email is not None:
            myself["emailAddress"] = user.email
        myself.update(
            {
                "avatarUrls": dict.fromkeys(("48x48", "24x24", "16x16", "32x32"), picture),
                "displayName": user.name,
                "active": user.account_status == "active",
                "timeZone": user.zoneinfo,
                "locale": user.locale.replace("-", "_"),
                "groups": {"size": 1, "items": []},
                "applicationRoles": {"size": 1, "items": []},
                "expand": "groups,applicationRoles",
            }
        )
        return JSONResponse(myself)

    return [
        Route("/me", me, methods=["GET"], name="me"),
        Route(
            "/oauth/token/accessible-resources",
            accessible_resources,
            methods=["GET"],
            name="accessible_resources",
        ),
        Route(
            "/ex/jira/{cloud_id}/rest/api/3/myself",
            jira_myself,
            methods=["GET"],
            name="jira_myself",
        ),
    ]
