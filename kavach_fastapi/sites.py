"""Choosing among a person's Atlassian sites.

Atlassian lists the sites a grant reaches in no particular order and never says which one the
person picked on the consent page, so code must choose a site explicitly: by cloud id, by URL,
or by what it can do. There is deliberately no "first site" helper.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import AtlassianSite
from .providers.atlassian_sites import product_name


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
