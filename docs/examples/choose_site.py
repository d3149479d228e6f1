"""Choosing one of the person's Atlassian sites: by address, by product, by what it allows."""

from fastapi import APIRouter, HTTPException

from kavach_fastapi import (
    AtlassianSite,
    AtlassianSites,
    find_site,
    sites_for_product,
    sites_with_scope,
)

router = APIRouter()


@router.get("/sites/jira")
async def jira_sites(sites: AtlassianSites) -> list[AtlassianSite]:
    """The sites where the person's grant reaches Jira: show them and let the person pick."""
    return sites_for_product(sites, "jira")


@router.get("/sites/by-url")
async def site_by_url(url: str, sites: AtlassianSites) -> AtlassianSite:
    """A site by the address people know it by, such as `https://acme.atlassian.net`."""
    site = find_site(sites, url=url)
    if site is None:
        raise HTTPException(
            404, detail="You have not shared that site with this app."
        )
    return site


@router.get("/sites/for-issues")
async def site_for_issues(sites: AtlassianSites) -> AtlassianSite:
    """The one site where this app may read Jira issues, or an answer that says what to do."""
    usable = sites_with_scope(sites, "read:jira-work")
    if not usable:
        raise HTTPException(
            403, detail="Connect again and share a Jira site with this app."
        )
    if len(usable) > 1:
        raise HTTPException(
            409, detail="You shared several Jira sites: choose one by address."
        )
    return usable[0]
