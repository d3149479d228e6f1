"""Dependencies that call Atlassian as the signed-in person: a token, their sites, a client.

```python
@app.get("/sites")
async def sites(sites: AtlassianSites) -> list[AtlassianSite]: ...
```

A ``reauth_required`` error they raise is answered with the ``reauth_url`` that starts the
consent again; the HTTP edge adds it when it renders the error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request

from ..dependencies import current_user, get_kavach
from ..errors import ConfigurationError, ReauthRequiredError
from ..extra_scopes import EXTRA_SCOPES_PARAM, check_scope_names, seal_extra_scopes
from ..http.requests import reauth_url
from ..http.security import GRANT_ANSWERS, declares_session
from ..models import AtlassianSite
from ..providers.atlassian import AtlassianProvider
from ..providers.base import missing_scopes
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


@declares_session(*GRANT_ANSWERS)
async def atlassian_token(request: Request) -> str:
    """A valid Atlassian access token for the signed-in person, refreshed when needed.

    Raises:
        NotSignedInError: nobody is signed in (401 ``not_signed_in``).
        ReauthRequiredError: the grant is gone; consent again at ``reauth_url`` (401).
        ProviderUnavailableError: Atlassian failed even after retries (503, ``Retry-After``).
        RefreshRefusedError: Atlassian refused the refresh, not for a dead grant (502).
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    return await kavach.tokens.access_token(user.id, atlassian_of(kavach).id)


@declares_session(*GRANT_ANSWERS)
async def atlassian_sites(request: Request) -> list[AtlassianSite]:
    """The signed-in person's Atlassian sites (cached per account, see ``KAVACH_SITES_CACHE_TTL``).

    Raises:
        NotSignedInError, ReauthRequiredError, ProviderUnavailableError, RefreshRefusedError:
            as for [`atlassian_token`][kavach_fastapi.atlassian_token].
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    return await kavach.sites.sites(user.id, atlassian_of(kavach))


@declares_session(*GRANT_ANSWERS)
async def atlassian_client(request: Request) -> AtlassianClient:
    """An [`AtlassianClient`][kavach_fastapi.AtlassianClient] for the signed-in person.

    Raises:
        NotSignedInError: nobody is signed in (401 ``not_signed_in``).
    """
    user = await current_user(request)
    kavach = get_kavach(request)
    return AtlassianClient(kavach.calls, kavach.sites, atlassian_of(kavach), user.id)


def require_atlassian_scopes(*scopes: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency that lets a route run only when the person's grant has ``scopes``.

    ```python
    @app.post("/issues", dependencies=[Depends(require_atlassian_scopes("write:jira-work"))])
    async def create_issue(atlassian: AtlassianAPI) -> ...: ...
    ```

    When the grant lacks one, the route answers 401 ``reauth_required`` with a ``reauth_url``
    that asks Atlassian for the configured scopes and the missing ones (sealed in the URL, so
    that no link made elsewhere can ask for more). Each scope must also be enabled for the app
    in Atlassian's developer console, or Atlassian stops on its own error page.

    Args:
        *scopes: the scopes the route needs, e.g. ``"write:jira-work"``.

    Raises:
        ValueError: no scope given, or one that is not a scope name (at import time).
    """
    wanted = check_scope_names(tuple(dict.fromkeys(scopes)))
    if not wanted:
        raise ValueError("require_atlassian_scopes() needs at least one scope")

    @declares_session(*GRANT_ANSWERS)
    async def require_scopes(request: Request) -> None:
        user = await current_user(request)
        kavach = get_kavach(request)
        provider = atlassian_of(kavach)
        row = await kavach.tokens.account(user.id, provider.id)
        # An unknown grant (no scopes recorded) cannot prove a scope missing: it is let through.
        lacking = missing_scopes(wanted, row.scopes)
        if not lacking:
            return
        base = reauth_url(request, kavach.settings.base_url, provider.id)
        sealed = seal_extra_scopes(kavach.keyring, provider.id, lacking)
        raise ReauthRequiredError(
            f"This needs more permissions of your Atlassian account ({' '.join(lacking)}). "
            "Please connect again.",
            reauth_url=f"{base}?{urlencode({EXTRA_SCOPES_PARAM: sealed})}" if base else None,
        )

    return require_scopes


AtlassianToken = Annotated[str, Depends(atlassian_token)]
"""A valid Atlassian access token for the signed-in person."""

AtlassianSites = Annotated[list[AtlassianSite], Depends(atlassian_sites)]
"""The signed-in person's Atlassian sites."""

AtlassianAPI = Annotated[AtlassianClient, Depends(atlassian_client)]
"""Atlassian's product APIs, authorised as the signed-in person."""
