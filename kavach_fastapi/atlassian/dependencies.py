"""Dependencies that call Atlassian as the signed-in person: a token, their sites, a client.

```python
@app.get("/sites")
async def sites(sites: AtlassianSites) -> list[AtlassianSite]: ...
```
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..dependencies import current_user, get_kavach
from ..models import AtlassianSite
from ..web import reauth_url
from .client import AtlassianClient, offering_reauth


async def atlassian_token(request: Request) -> str:
    """A valid Atlassian access token for the signed-in person, refreshed when needed.

    Raises:
        NotSignedInError: nobody is signed in (401 ``not_signed_in``).
        ReauthRequiredError: the grant is gone; consent again at ``reauth_url`` (401).
        ProviderUnavailableError: Atlassian failed even after retries (503, ``Retry-After``).
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    async with offering_reauth(reauth_url(request, kavach.settings.base_url)):
        return await kavach.tokens.access_token(user.id, kavach.atlassian().id)


async def atlassian_sites(request: Request) -> list[AtlassianSite]:
    """The signed-in person's Atlassian sites (cached per account, see ``KAVACH_SITES_CACHE_TTL``).

    Raises:
        NotSignedInError, ReauthRequiredError, ProviderUnavailableError: as for
            :func:`atlassian_token`.
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    async with offering_reauth(reauth_url(request, kavach.settings.base_url)):
        return await kavach.tokens.sites(user.id, kavach.atlassian())


async def atlassian_client(request: Request) -> AtlassianClient:
    """An :class:`~kavach_fastapi.AtlassianClient` for the signed-in person.

    Raises:
        NotSignedInError: nobody is signed in (401 ``not_signed_in``).
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    return AtlassianClient(
        kavach.tokens,
        kavach.atlassian(),
        user.id,
        reauth_url=reauth_url(request, kavach.settings.base_url),
    )


AtlassianToken = Annotated[str, Depends(atlassian_token)]
"""A valid Atlassian access token for the signed-in person."""

AtlassianSites = Annotated[list[AtlassianSite], Depends(atlassian_sites)]
"""The signed-in person's Atlassian sites."""

AtlassianAPI = Annotated[AtlassianClient, Depends(atlassian_client)]
"""Atlassian's product APIs, authorised as the signed-in person."""
