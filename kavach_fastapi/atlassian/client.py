"""Calling Atlassian's product APIs as the signed-in person.

[`AtlassianClient`][kavach_fastapi.AtlassianClient] sends requests to ``ATLASSIAN_API_URL/ex/{product}/{cloud_id}/...``
(the only way a 3LO token reaches Jira or Confluence), after checking that the cloud id is one of
the person's sites. `ProviderCalls` sends them: it refreshes the token and retries once on
a 401, and retries what is safe to retry through `with_retries`.

Paths are built so that a segment stays a segment (`kavach_fastapi.atlassian.paths`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx2

from .. import metrics
from ..errors import InvalidAPIPathError, UnknownSiteError
from ..models import AtlassianSite
from ..oauth import OAuthClient
from ..providers.atlassian import AtlassianProvider
from ..quota import QuotaGuard
from ..retry import RetryPolicy, TransientFailure, transient_answer, with_retries
from ..tokens import TokenService
from .paths import PRODUCT, PathValue, api_path
from .sites import SitesCache, find_site

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods that may be sent again when their first try's fate is unknown (RFC 9110)."""


class ProviderCalls:
    """Calls a provider's APIs as a user, with a valid token and the retries that are safe.

    Args:
        tokens: valid access tokens.
        clients: an OAuth client per provider id.
        retry: how transient failures are retried.
        quota: the guard of sites whose quota is used up; calls are never held back when
            ``None``.
    """

    def __init__(
        self,
        tokens: TokenService,
        clients: dict[str, OAuthClient],
        *,
        retry: RetryPolicy | None = None,
        quota: QuotaGuard | None = None,
    ) -> None:
        self._tokens = tokens
        self._clients = clients
        self.retry = retry or tokens.retry
        self.quota = quota

    async def call(
        self,
        user_id: str,
        provider_id: str,
        method: str,
        url: str,
        *,
        site: str | None = None,
        product: str | None = None,
        **kwargs: Any,
    ) -> httpx2.Response:
        """Call a provider API as the user: refresh once on 401, retry what is safe to retry.

        Idempotent methods (``GET``, ``HEAD``, ``OPTIONS``, ``PUT``, ``DELETE``) are retried
        after timeouts, connection failures and ``429``; others (``POST``, ``PATCH``) only
        when the provider cannot have acted on them: the connection failed, or it answered
        ``429`` with ``Retry-After``. A ``401`` refreshes the token at most once per token
        (one refused soon after a refusal refreshed it is not refreshed again: the answer is
        returned).

        A call for a ``site`` (a product API) first asks the quota guard: a blocked site is
        refused before anything is sent, and a ``429`` that asks for a long wait blocks the
        site for every worker (`kavach_fastapi.quota`).

        Returns the ``httpx2.Response`` whatever its final status.

        Raises:
            ReauthRequiredError: the person must consent again.
            QuotaExhaustedError: the site's quota is used up for longer than retries wait.
            ProviderUnavailableError: unreachable or rate-limited beyond the retry budget,
                or a request that is not idempotent got no answer.
        """
        client = self._clients[provider_id]
        verb = method.upper()
        guard = self.quota if site is not None else None

        async def send(token: str) -> httpx2.Response:
            async def once() -> httpx2.Response:
                started = time.perf_counter()
                try:
                    response = await client.api_request(verb, url, access_token=token, **kwargs)
                except TransientFailure:
                    if site is not None:
                        metrics.record_api_call(
                            provider_id, product, None, time.perf_counter() - started
                        )
                    raise
                if site is not None:
                    metrics.record_api_call(
                        provider_id, product, response.status_code, time.perf_counter() - started
                    )
                if guard is not None and site is not None:
                    if response.status_code == 429:
                        await guard.after_rate_limit(provider_id, site, response, product=product)
                    else:
                        guard.after_answer(provider_id, site, response, product=product)
                if response.status_code == 429:
                    raise transient_answer(response)
                return response

            return await with_retries(
                once,
                policy=self.retry,
                what=f"{verb} {httpx2.URL(url).path}",
                provider=client.provider.name,
                repeatable=verb in IDEMPOTENT,
            )

        if guard is not None and site is not None:
            await guard.check(provider_id, site)
        token = await self._tokens.access_token(user_id, provider_id)
        response = await send(token)
        if response.status_code == 401 and not _scope_mismatch(response):
            replacement = await self._tokens.after_refusal(user_id, provider_id, token)
            if replacement is not None:
                response = await send(replacement)
        return response


def _scope_mismatch(response: httpx2.Response) -> bool:
    """Atlassian's 401 for a missing scope: a new token would not have it either."""
    return b"scope does not match" in response.content


class AtlassianClient:
    """Atlassian's APIs, authorised as one signed-in user.

    Get one with the ``AtlassianAPI`` dependency:

        @app.get("/jira/{cloud_id}/me")
        async def jira_me(cloud_id: str, atlassian: AtlassianAPI) -> dict[str, Any]:
            response = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
            return response.json()
    """

    def __init__(
        self, calls: ProviderCalls, sites: SitesCache, provider: AtlassianProvider, user_id: str
    ) -> None:
        self._calls = calls
        self._sites = sites
        self._provider = provider
        self._user_id = user_id

    async def sites(self) -> list[AtlassianSite]:
        """The person's sites (cached; see ``KAVACH_SITES_CACHE_TTL``)."""
        return await self._sites.sites(self._user_id, self._provider)

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
        self,
        method: str,
        product: str,
        cloud_id: str,
        path: str,
        *,
        path_params: Mapping[str, PathValue] | None = None,
        **kwargs: Any,
    ) -> httpx2.Response:
        """Send ``method`` to ``/ex/{product}/{cloud_id}{path}`` and return the answer.

        Put anything that comes from a person into ``path_params=``, never into ``path``
        itself: ``get("jira", cloud_id, "/rest/api/3/issue/{key}", path_params={"key": key})``
        sends ``key`` as one segment whatever it holds. See `api_path`.

        ``GET``, ``HEAD``, ``OPTIONS``, ``PUT`` and ``DELETE`` are sent again after a timeout
        or a lost connection; ``POST`` and ``PATCH`` only when Atlassian cannot have acted on
        them (the connection failed, or it answered ``429`` with ``Retry-After``), so a slow
        answer never makes a duplicate issue or comment.

        Args:
            method: ``GET``, ``POST``, ...
            product: ``"jira"`` or ``"confluence"``.
            cloud_id: one of the person's sites.
            path: the product API path, e.g. ``/rest/api/3/myself``, with ``{name}``
                placeholders for values.
            path_params: a value for each placeholder, percent-encoded within its segment.
            kwargs: passed to ``httpx2`` (``params=`` for the query, ``json=``, ``headers=``...).

        Raises:
            InvalidAPIPathError: ``product``, ``path`` or a ``path_params`` value is malformed
                or ambiguous (answered as 400); nothing was sent.
            UnknownSiteError: the cloud id is not one of the person's sites.
            ReauthRequiredError: the person must consent again.
            QuotaExhaustedError: Atlassian's quota for this site is used up (a long ``429``
                here or in any other worker); nothing was sent.
            ProviderUnavailableError: Atlassian is down or rate-limiting beyond the retry
                budget, or a ``POST``/``PATCH`` got no answer in time.
            RefreshRefusedError: the token needed refreshing and Atlassian refused, not for a
                dead grant; nothing was sent.
        """
        if not isinstance(product, str) or not PRODUCT.fullmatch(product):
            raise InvalidAPIPathError("That is not a valid Atlassian product name.")
        built = api_path(path, path_params)
        site = await self.site(cloud_id)
        url = f"{self._provider.api_url}/ex/{product}/{quote(site.id, safe='')}{built}"
        return await self._calls.call(
            self._user_id, self._provider.id, method, url, site=site.id, product=product, **kwargs
        )

    async def get(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``GET`` a product API path (see `request`)."""
        return await self.request("GET", product, cloud_id, path, **kwargs)

    async def post(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``POST`` to a product API path (see `request`); resent only if it never arrived."""
        return await self.request("POST", product, cloud_id, path, **kwargs)

    async def put(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``PUT`` to a product API path (see `request`)."""
        return await self.request("PUT", product, cloud_id, path, **kwargs)

    async def patch(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``PATCH`` a product API path (see `request`); resent only if it never arrived."""
        return await self.request("PATCH", product, cloud_id, path, **kwargs)

    async def delete(
        self, product: str, cloud_id: str, path: str, **kwargs: Any
    ) -> httpx2.Response:
        """``DELETE`` a product API path (see `request`)."""
        return await self.request("DELETE", product, cloud_id, path, **kwargs)
