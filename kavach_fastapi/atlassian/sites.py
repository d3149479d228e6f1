"""Atlassian sites: the ``accessible-resources`` answer read into one site each, and choosing one.

Atlassian lists a site once per product it runs: a site with Jira and Jira Service Management
appears twice, with the same ``id``, each entry carrying only that product's scopes. No entry
names its product; the scopes do. `parse_accessible_resources` merges the entries by cloud
id into one site with its products and the union of the scopes, in the order Atlassian listed
them (an order that means nothing: never pick "the first site").

Which product a scope belongs to:

| scope | product |
| --- | --- |
| classic `<verb>:jira-<thing>` (`read:jira-work`, `read:jira-user`, `manage:jira-project`) | `jira` |
| granular `<verb>:<thing>:jira` (`read:user:jira`) or `...:jira-software` (`read:sprint:jira-software`) | `jira` |
| classic `<verb>:servicedesk-<thing>` (`read:servicedesk-request`) or `<verb>:servicemanagement-<thing>` | `jira-servicedesk` |
| granular `<verb>:<thing>:jira-service-management` | `jira-servicedesk` |
| classic `<verb>:confluence-<thing>` (`read:confluence-user`), `search:confluence` | `confluence` |
| granular `<verb>:<thing>:confluence` (`read:space:confluence`) | `confluence` |
| anything else (`read:me`, `read:account`, `offline_access`, unknown scopes) | none |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

import httpx2

from ..codes import ErrorCode
from ..errors import ProviderError, ProviderUnavailableError
from ..models import AtlassianSite
from ..oauth import OAuthClient
from ..providers.atlassian import AtlassianProvider
from ..retry import TransientFailure
from ..store.accounts import AccountStore
from ..tables import utcnow
from ..tokens import TokenService

logger = logging.getLogger("kavach_fastapi")

__all__ = [
    "PRODUCTS",
    "SitesCache",
    "find_site",
    "parse_accessible_resources",
    "product_name",
    "product_of_scope",
    "products_of_scopes",
    "sites_for_product",
    "sites_of_token",
    "sites_with_scope",
]

PRODUCTS = ("jira", "jira-servicedesk", "confluence")
"""The products a site's scopes can name."""

_GRANULAR = {
    "jira": "jira",
    "jira-software": "jira",
    "jira-service-management": "jira-servicedesk",
    "confluence": "confluence",
}
_CLASSIC = {
    "jira": "jira",
    "servicedesk": "jira-servicedesk",
    "servicemanagement": "jira-servicedesk",
    "confluence": "confluence",
}
_ALIASES = {"jira-service-management": "jira-servicedesk", "jira-software": "jira"}


def product_of_scope(scope: str) -> str | None:
    """The product a scope belongs to (see the table above), or ``None``.

    Example:
        >>> product_of_scope("read:servicedesk-request"), product_of_scope("offline_access")
        ('jira-servicedesk', None)
    """
    verb, _, rest = scope.partition(":")
    if not verb or not rest:
        return None
    thing, _, product = rest.rpartition(":")
    if thing:
        return _GRANULAR.get(product)
    return _CLASSIC.get(rest.split("-", 1)[0])


def products_of_scopes(scopes: Iterable[str]) -> list[str]:
    """The products some scopes reach, each once, in the order the scopes name them."""
    found = (product_of_scope(scope) for scope in scopes)
    return list(dict.fromkeys(product for product in found if product is not None))


def product_name(product: str) -> str:
    """A product as `AtlassianSite.products` names it (``"Jira"`` -> ``"jira"``,
    ``"jira-service-management"`` -> ``"jira-servicedesk"``)."""
    name = product.strip().lower()
    return _ALIASES.get(name, name)


def parse_accessible_resources(payload: Any) -> list[AtlassianSite]:
    """Read an ``accessible-resources`` answer: one site per cloud id, products merged.

    Args:
        payload: The decoded JSON answer, a list of ``{id, name, url, scopes, avatarUrl}``.

    Raises:
        ValueError: The answer is not a list of entries that each have an ``id``.
    """
    if not isinstance(payload, list):
        raise ValueError("accessible-resources did not answer a list")
    merged: dict[str, AtlassianSite] = {}
    for entry in payload:
        if not isinstance(entry, dict) or not entry.get("id"):
            raise ValueError("an accessible-resources entry has no id")
        site = _site(entry)
        known = merged.get(site.id)
        if known is None:
            merged[site.id] = site
            continue
        scopes = list(dict.fromkeys([*known.scopes, *site.scopes]))
        merged[site.id] = known.model_copy(
            update={
                "scopes": scopes,
                "products": products_of_scopes(scopes),
                "name": known.name or site.name,
                "url": known.url or site.url,
                "avatar_url": known.avatar_url or site.avatar_url,
            }
        )
    return list(merged.values())


def _site(entry: dict[str, Any]) -> AtlassianSite:
    raw_scopes = entry.get("scopes")
    scopes = [str(scope) for scope in raw_scopes] if isinstance(raw_scopes, list) else []
    avatar = entry.get("avatarUrl") or entry.get("avatar_url")
    return AtlassianSite(
        id=str(entry["id"]),
        name=str(entry.get("name") or ""),
        url=str(entry.get("url") or ""),
        scopes=scopes,
        products=products_of_scopes(scopes),
        avatar_url=str(avatar) if avatar else None,
    )


async def sites_of_token(
    client: OAuthClient, provider: AtlassianProvider, access_token: str
) -> list[AtlassianSite]:
    """The sites a fresh access token reaches, asked once (a sign-in's, before it is stored).

    Raises:
        ProviderError: ``provider_unavailable``: Atlassian failed, or answered something that
            is not a list of sites.
    """
    payload = await client.get_json(
        provider.accessible_resources_url,
        access_token=access_token,
        failure=ErrorCode.PROVIDER_UNAVAILABLE,
    )
    try:
        return parse_accessible_resources(payload)
    except ValueError as exc:
        logger.warning("accessible-resources answer is unusable: %s", exc)
        raise ProviderError(code=ErrorCode.PROVIDER_UNAVAILABLE) from None


# Choosing among a person's sites. Atlassian lists the sites a grant reaches in no particular
# order and never says which one the person picked on the consent page, so code must choose a
# site explicitly: by cloud id, by URL, or by what it can do. There is deliberately no "first
# site" helper.


def _normalise_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def find_site(
    sites: Iterable[AtlassianSite], *, cloud_id: str | None = None, url: str | None = None
) -> AtlassianSite | None:
    """The site with this cloud id, or at this URL (``https://acme.atlassian.net``)."""
    if (cloud_id is None) == (url is None):
        raise ValueError("give exactly one of cloud_id= or url=")
    for site in sites:
        if cloud_id is not None and site.id == cloud_id:
            return site
        if url is not None and _normalise_url(site.url) == _normalise_url(url):
            return site
    return None


def sites_with_scope(sites: Iterable[AtlassianSite], scope: str) -> list[AtlassianSite]:
    """The sites on which the grant includes exactly ``scope`` (e.g. ``read:jira-work``)."""
    return [site for site in sites if scope in site.scopes]


def sites_for_product(sites: Iterable[AtlassianSite], product: str) -> list[AtlassianSite]:
    """The sites on which the grant reaches a product: ``"jira"``, ``"jira-servicedesk"``
    (Jira Service Management) or ``"confluence"``, in any case.

    Atlassian does not name the product of a site; the scopes granted on it do (see
    ``AtlassianSite.products``).
    """
    wanted = product_name(product)
    return [site for site in sites if wanted in site.products]


class _Calls(Protocol):
    async def call(
        self, user_id: str, provider_id: str, method: str, url: str, **kwargs: Any
    ) -> httpx2.Response: ...


class SitesCache:
    """A person's Atlassian sites, kept per account for ``KAVACH_SITES_CACHE_TTL``.

    Args:
        accounts: the accounts table, where the list is cached.
        tokens: the person's grant (a missing or dead one raises ``ReauthRequiredError``).
        calls: sends the ``accessible-resources`` request.
        ttl: how long a cached list is fresh.
    """

    def __init__(
        self, accounts: AccountStore, tokens: TokenService, calls: _Calls, *, ttl: timedelta
    ) -> None:
        self._accounts = accounts
        self._tokens = tokens
        self._calls = calls
        self._ttl = ttl

    async def sites(self, user_id: str, provider: AtlassianProvider) -> list[AtlassianSite]:
        """The person's Atlassian sites, from the cache while fresh.

        When Atlassian fails and a cached list exists, the stale list is served (and logged).

        Raises:
            ReauthRequiredError: the person must consent again.
            ProviderUnavailableError: Atlassian failed and nothing is cached.
            RefreshRefusedError: the token needed refreshing and Atlassian refused it.
        """
        row = await self._tokens.account(user_id, provider.id)
        cached = _cached(row.sites_json) if row.sites_json else None
        fetched_at = row.sites_fetched_at
        if cached is not None and fetched_at and fetched_at + self._ttl > utcnow():
            return cached
        try:
            response = await self._calls.call(
                user_id, provider.id, "GET", provider.accessible_resources_url
            )
            if response.status_code != 200:
                raise TransientFailure(f"HTTP {response.status_code}")
            sites = parse_accessible_resources(response.json())
        except (TransientFailure, ProviderUnavailableError, ValueError, TypeError, KeyError) as exc:
            if cached is None:
                if isinstance(exc, ProviderUnavailableError):
                    raise
                raise ProviderUnavailableError(retry_after=5) from None
            logger.warning("serving a stale list of sites for account %s: %s", row.id, exc)
            return cached
        await self._accounts.save_sites(
            row.id, json.dumps([site.model_dump() for site in sites]), now=utcnow()
        )
        return sites


def _cached(raw: str) -> list[AtlassianSite] | None:
    try:
        return [AtlassianSite.model_validate(item) for item in json.loads(raw)]
    except ValueError:
        return None
