"""Calling Atlassian's product APIs as the signed-in person.

:class:`AtlassianClient` sends requests to ``ATLASSIAN_API_URL/ex/{product}/{cloud_id}/...``
(the only way a 3LO token reaches Jira or Confluence), after checking that the cloud id is one of
the person's sites. It refreshes the token and retries once on a 401, and honours ``429`` with
``Retry-After`` within a small budget.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from .errors import ReauthRequiredError, UnknownSiteError
from .models import AtlassianSite
from .providers.atlassian import AtlassianProvider
from .sites import find_site
from .tokens import TokenService

_PRODUCT = re.compile(r"^[a-z][a-z-]{1,30}$")


@asynccontextmanager
async def offering_reauth(reauth_url: str | None) -> AsyncIterator[None]:
    """Add the URL that starts the consent again to a ``reauth_required`` error."""
    try:
        yield
    except ReauthRequiredError as exc:
        exc.reauth_url = exc.reauth_url or reauth_url
        raise


class AtlassianClient:
    """Atlassian's APIs, authorised as one signed-in user.

    Get one with the ``AtlassianAPI`` dependency::

        @app.get("/jira/{cloud_id}/me")
        async def jira_me(cloud_id: str, atlassian: AtlassianAPI) -> dict[str, Any]:
            response = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
            return response.json()
    """

    def __init__(
        self,
        tokens: TokenService,
        provider: AtlassianProvider,
        user_id: str,
        *,
        reauth_url: str | None = None,
    ) -> None:
        self._tokens = tokens
        self._provider = provider
        self._user_id = user_id
        self._reauth_url = reauth_url

    async def sites(self) -> list[AtlassianSite]:
        """The person's sites (cached; see ``KAVACH_SITES_CACHE_TTL``)."""
        async with offering_reauth(self._reauth_url):
            return await self._tokens.sites(self._user_id, self._provider)

    async def site(self, cloud_id: str | None = None, *, url: str | None = None) -> AtlassianSite:
        """One of the person's sites, by cloud id or URL.

        Raises:
            UnknownSiteError: the person has not granted access to such a site.
        """
        found = find_site(await self.sites(), cloud_id=cloud_id, url=url)
        if found is None:
            raise UnknownSiteError
        return found

    async def request(
        self, method: str, product: str, cloud_id: str, path: str, **kwargs: Any
    ) -> httpx2.Response:
        """Send ``method`` to ``/ex/{product}/{cloud_id}{path}`` and return the answer.

        Args:
            method: ``GET``, ``POST``, ...
            product: ``"jira"`` or ``"confluence"``.
            cloud_id: one of the person's sites.
            path: the product API path, e.g. ``/rest/api/3/myself``.
            kwargs: passed to ``httpx2`` (``params=``, ``json=``, ``headers=``...).

        Raises:
            UnknownSiteError: the cloud id is not one of the person's sites.
            ReauthRequiredError: the person must consent again.
            ProviderUnavailableError: Atlassian is down or rate-limiting beyond the retry budget.
            ValueError: ``product`` or ``path`` is malformed.
        """
        if not _PRODUCT.match(product):
            raise ValueError(f"not a product name: {product!r}")
        if not path.startswith("/") or "//" in path or ".." in path.split("?", maxsplit=1)[0]:
            raise ValueError(f"not an API path: {path!r}")
        site = await self.site(cloud_id)
        url = f"{self._provider.api_url}/ex/{product}/{site.id}{path}"
        async with offering_reauth(self._reauth_url):
            return await self._tokens.call(self._user_id, self._provider.id, method, url, **kwargs)

    async def get(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``GET`` a product API path (see :meth:`request`)."""
        return await self.request("GET", product, cloud_id, path, **kwargs)

    async def post(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``POST`` to a product API path (see :meth:`request`)."""
        return await self.request("POST", product, cloud_id, path, **kwargs)

    async def put(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``PUT`` to a product API path (see :meth:`request`)."""
        return await self.request("PUT", product, cloud_id, path, **kwargs)

    async def delete(
        self, product: str, cloud_id: str, path: str, **kwargs: Any
    ) -> httpx2.Response:
        """``DELETE`` a product API path (see :meth:`request`)."""
        return await self.request("DELETE", product, cloud_id, path, **kwargs)
