"""The Atlassian provider's own endpoint: ``GET /auth/oauth/atlassian/sites``.

The router includes it because the provider names it
([`OAuthProvider.routes`][kavach_fastapi.OAuthProvider]).
"""

from __future__ import annotations

from fastapi import APIRouter

from ..codes import ErrorCode
from ..http.errors import error_responses
from ..models import AtlassianSite
from ..router.common import SignedIn
from ..runtime import Kavach
from .dependencies import atlassian_of


def add_sites_route(router: APIRouter, kavach: Kavach) -> None:
    """Add the endpoint that lists the signed-in person's Atlassian sites."""

    @router.get(
        "/auth/oauth/atlassian/sites",
        response_model=list[AtlassianSite],
        summary="The signed-in person's Atlassian sites",
        responses=error_responses(
            ErrorCode.NOT_SIGNED_IN,
            ErrorCode.REAUTH_REQUIRED,
            ErrorCode.PROVIDER_UNAVAILABLE,
            ErrorCode.DATABASE_UNAVAILABLE,
        ),
    )
    async def list_sites(found: SignedIn) -> list[AtlassianSite]:
        """The Atlassian sites the person granted, cached for ``KAVACH_SITES_CACHE_TTL``.

        The order means nothing, and the list may be empty.
        """
        return await kavach.sites.sites(found.user.id, atlassian_of(kavach))
