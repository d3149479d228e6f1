"""Dependencies that call Atlassian as the signed-in person: a token, their sites, a client.

```python
@app.get("/sites")
async def sites(sites: AtlassianSites) -> list[AtlassianSite]: ...
```

A ``reauth_required`` error they raise is answered with the ``reauth_url`` that starts the
consent again; the HTTP edge adds it when it renders the error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..dependencies import current_user, get_kavach
from ..errors import ConfigurationError
from ..http.security import GrantRequired
from ..models import AtlassianSite
from ..providers.atlassian import AtlassianProvider
from ..runtime import Kavach
from .client import AtlassianClient


def atlassian_of(kavach: Kavach) -> AtlassianProvider:
    """The app's Atlassian provider.

    Raises:
        ConfigurationError: the router has no Atlassian provider.
    """
    provider = kavach.providers.get("atlassian")
    if not isinstance(provider, AtlassianProvider):
        raise ConfigurationError(
            "This needs the Atlassian provider: kavach_router(providers=[atlassian_provider()])."
        )
    return provider


async def atlassian_token(request: Request, _required: GrantRequired = None) -> str:
    """A valid Atlassian access token for the signed-in person, refreshed when needed.

    Raises:
        NotSignedInError: nobody is signed in (401 ``not_signed_in``).
        ReauthRequiredError: the grant is gone; consent again at ``reauth_url`` (401).
        ProviderUnavailableError: Atlassian failed even after retries (503, ``Retry-After``).
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    return await kavach.tokens.access_token(user.id, atlassian_of(kavach).id)


async def atlassian_sites(request: Request, _required: GrantRequired = None) -> list[AtlassianSite]:
    """The signed-in person's Atlassian sites (cached per account, see ``KAVACH_SITES_CACHE_TTL``).

    Raises:
        NotSignedInError, ReauthRequiredError, ProviderUnavailableError: as for
            [`atlassian_token`][kavach_fastapi.atlassian_token].
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    return await kavach.sites.sites(user.id, atlassian_of(kavach))


async def atlassian_client(request: Request, _required: GrantRequired = None) -> AtlassianClient:
    """An [`AtlassianClient`][kavach_fastapi.AtlassianClient] for the signed-in person.

    Raises:
        NotSignedInError: nobody is signed in (401 ``not_signed_in``).
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    return AtlassianClient(kavach.calls, kavach.sites, atlassian_of(kavach), user.id)


AtlassianToken = Annotated[str, Depends(atlassian_token)]
"""A valid Atlassian access token for the signed-in person."""

AtlassianSites = Annotated[list[AtlassianSite], Depends(atlassian_sites)]
"""The signed-in person's Atlassian sites."""

AtlassianAPI = Annotated[AtlassianClient, Depends(atlassian_client)]
"""Atlassian's product APIs, authorised as the signed-in person."""
