"""The JSON bodies the api.atlassian.com endpoints answer with, as Atlassian shapes them.

Pure functions of the configured people and sites; the routes in `.api` call them once a
request has passed the token, site and scope checks. Field names, their order and their types
follow Atlassian's documented sample answers (``tests/conformance`` holds the recorded shapes
and checks these against them).
"""

from __future__ import annotations

from urllib.parse import quote

from kavach_fastapi.emulator.avatars import site_avatar_url, user_avatar_url
from kavach_fastapi.emulator.config import EmulatedSite, EmulatedUser
from kavach_fastapi.emulator.products import product_of_scope

__all__ = [
    "DEFAULT_SPACES_LIMIT",
    "MAX_SPACES_LIMIT",
    "confluence_current_user",
    "confluence_spaces",
    "jira_myself",
    "profile",
    "site_entries",
]

DEFAULT_SPACES_LIMIT = 25
"""How many spaces ``/wiki/api/v2/spaces`` lists when no ``limit`` is given."""

MAX_SPACES_LIMIT = 250
"""The largest ``limit`` Confluence accepts for spaces."""


def profile(user: EmulatedUser, base: str) -> dict[str, object]:
    """``GET /me``: the person's Atlassian account; ``email`` only when it is not hidden."""
    body: dict[str, object] = {"account_type": user.account_type, "account_id": user.account_id}
    if user.email is not None:
        body["email"] = user.email
    if user.email_verified is not None:
        body["email_verified"] = user.email_verified
    body.update(
        {
            "name": user.name,
            "picture": user_avatar_url(user, base),
            "account_status": user.account_status,
            "nickname": user.nickname,
            "zoneinfo": user.zoneinfo,
            "locale": user.locale,
            "extended_profile": dict(user.extended_profile),
        }
    )
    return body


def site_entries(site: EmulatedSite, scopes: tuple[str, ...], base: str) -> list[dict[str, object]]:
    """The ``accessible-resources`` entries of one granted site.

    One entry per product the site runs and the scopes reach, each with only that product's
    scopes. A granted site that none of the scopes reach is listed once, with no scopes.
    """
    entries = []
    for product in site.products:
        granted = [scope for scope in scopes if product_of_scope(scope) == product]
        if granted:
            entries.append(_resource(site, granted, base))
    return entries or [_resource(site, [], base)]


def _resource(site: EmulatedSite, scopes: list[str], base: str) -> dict[str, object]:
    return {
        "id": site.id,
        "name": site.name,
        "url": site.url,
        "scopes": scopes,
        "avatarUrl": site_avatar_url(site, base),
    }


def jira_myself(user: EmulatedUser, site: EmulatedSite, base: str) -> dict[str, object]:
    """Jira's ``GET /rest/api/3/myself``: the person as the site's Jira knows them."""
    picture = user_avatar_url(user, base)
    body: dict[str, object] = {
        "self": f"{base}/ex/jira/{site.id}/rest/api/3/user?accountId={quote(user.account_id)}",
        "accountId": user.account_id,
        "accountType": user.account_type,
    }
    if user.email is not None:
        body["emailAddress"] = user.email
    body.update(
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
    return body


def confluence_current_user(user: EmulatedUser, site: EmulatedSite) -> dict[str, object]:
    """Confluence's ``GET /wiki/rest/api/user/current``: the person on the site's Confluence."""
    wiki = f"{site.url.rstrip('/')}/wiki"
    # Confluence keeps the field and leaves it empty when the person hides their email.
    body: dict[str, object] = {
        "type": "known",
        "accountId": user.account_id,
        "accountType": user.account_type,
        "email": user.email or "",
    }
    body.update(
        {
            "publicName": user.nickname,
            "profilePicture": {
                "path": f"/wiki/aa-avatar/{quote(user.account_id)}",
                "width": 48,
                "height": 48,
                "isDefault": False,
            },
            "displayName": user.name,
            "isExternalCollaborator": False,
            "_expandable": {"operations": "", "personalSpace": ""},
            "_links": {
                "self": f"{wiki}/rest/api/user?accountId={quote(user.account_id)}",
                "base": wiki,
                "context": "/wiki",
            },
        }
    )
    return body


def confluence_spaces(
    site: EmulatedSite, user: EmulatedUser, *, limit: int, start: int
) -> dict[str, object]:
    """Confluence's ``GET /wiki/api/v2/spaces``: one page of the site's spaces, by id.

    The ``next`` link (also sent as the ``Link`` header) leads to the following page.

    Args:
        site: The site.
        user: Who asks (the spaces' author, for the emulator's simple world).
        limit: How many spaces per page.
        start: The index of the page's first space (what the ``cursor`` stands for).
    """
    # Confluence sorts spaces by id, ascending.
    ordered = sorted(site.spaces, key=lambda space: (len(space.id), space.id))
    page = ordered[start : start + limit]
    links: dict[str, str] = {"base": f"{site.url.rstrip('/')}/wiki"}
    if start + limit < len(ordered):
        links["next"] = f"/wiki/api/v2/spaces?limit={limit}&cursor={start + limit}"
    return {
        "results": [
            {
                "id": space.id,
                "key": space.key,
                "name": space.name,
                "type": space.type,
                "status": space.status,
                "authorId": user.account_id,
                "createdAt": space.created_at,
                "homepageId": space.homepage_id,
                "description": None,
                "icon": None,
                "_links": {"webui": f"/spaces/{space.key}"},
            }
            for space in page
        ],
        "_links": links,
    }
