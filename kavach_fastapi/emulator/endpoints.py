"""The api.atlassian.com endpoints the emulator serves, and the scopes each accepts.

One table, `API_ENDPOINTS`, is the single source: the routes are built from it, a call
is let through when the token holds every scope of one of the endpoint's scope sets (a classic
set or a granular set), and the documentation renders it. Atlassian answers a token that holds
none of the sets with ``401 {"code": 401, "message": "Unauthorized; scope does not match"}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kavach_fastapi.emulator.products import CONFLUENCE, JIRA

__all__ = ["API_ENDPOINTS", "ApiEndpoint", "ScopeSet", "endpoint", "markdown_table"]

ScopeKind = Literal["classic", "granular"]


@dataclass(frozen=True)
class ScopeSet:
    """Scopes that together let a call through.

    Attributes:
        kind: ``"classic"`` or ``"granular"`` (Atlassian's two families of scopes).
        scopes: Every scope the token must hold.
    """

    kind: ScopeKind
    scopes: tuple[str, ...]

    def satisfied_by(self, granted: Iterable[str]) -> bool:
        """Whether the granted scopes include all of this set."""
        return set(self.scopes) <= set(granted)


@dataclass(frozen=True)
class ApiEndpoint:
    """One endpoint of api.atlassian.com.

    Attributes:
        name: Its name in ``calls``, ``last_request`` and ``faults.add``.
        method: The HTTP method.
        path: The path as Atlassian documents it, with ``{cloudid}`` for a site's cloud id.
        product: The product whose site the endpoint belongs to; ``None`` for the
            endpoints that belong to no site.
        scope_sets: The sets of scopes of which a token must hold one; empty when any live
            access token will do.
        source: Where Atlassian documents the endpoint and its scopes.
    """

    name: str
    method: str
    path: str
    product: str | None
    scope_sets: tuple[ScopeSet, ...]
    source: str

    def accepts(self, granted: Iterable[str]) -> bool:
        """Whether a token with these scopes may call the endpoint."""
        scopes = set(granted)
        return not self.scope_sets or any(rule.satisfied_by(scopes) for rule in self.scope_sets)

    @property
    def route_path(self) -> str:
        """The path as a route pattern (``{cloud_id}`` for the cloud id)."""
        return self.path.replace("{cloudid}", "{cloud_id}")


_3LO = "https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/"

API_ENDPOINTS: tuple[ApiEndpoint, ...] = (
    ApiEndpoint(
        name="me",
        method="GET",
        path="/me",
        product=None,
        scope_sets=(ScopeSet("classic", ("read:me",)),),
        source=_3LO,
    ),
    ApiEndpoint(
        name="accessible_resources",
        method="GET",
        path="/oauth/token/accessible-resources",
        product=None,
        scope_sets=(),
        source=_3LO,
    ),
    ApiEndpoint(
        name="jira_myself",
        method="GET",
        path="/ex/jira/{cloudid}/rest/api/3/myself",
        product=JIRA,
        scope_sets=(
            ScopeSet("classic", ("read:jira-user",)),
            ScopeSet(
                "granular",
                (
                    "read:application-role:jira",
                    "read:group:jira",
                    "read:user:jira",
                    "read:avatar:jira",
                ),
            ),
        ),
        source="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/",
    ),
    ApiEndpoint(
        name="confluence_current_user",
        method="GET",
        path="/ex/confluence/{cloudid}/wiki/rest/api/user/current",
        product=CONFLUENCE,
        scope_sets=(
            ScopeSet("classic", ("read:confluence-user",)),
            ScopeSet("granular", ("read:content-details:confluence",)),
        ),
        source="https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-users/",
    ),
    ApiEndpoint(
        name="confluence_spaces",
        method="GET",
        path="/ex/confluence/{cloudid}/wiki/api/v2/spaces",
        product=CONFLUENCE,
        scope_sets=(
            ScopeSet("classic", ("read:confluence-space.summary",)),
            ScopeSet("granular", ("read:space:confluence",)),
        ),
        source="https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space/",
    ),
    ApiEndpoint(
        name="report_accounts",
        method="POST",
        path="/app/report-accounts/",
        product=None,
        scope_sets=(),
        source="https://developer.atlassian.com/cloud/jira/platform/user-privacy-developer-guide/",
    ),
)
"""Every api.atlassian.com endpoint the emulator serves, in the order the docs list them."""


def endpoint(name: str) -> ApiEndpoint:
    """Return the endpoint of `API_ENDPOINTS` with this name.

    Raises:
        KeyError: If there is none.
    """
    for candidate in API_ENDPOINTS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def markdown_table() -> str:
    """`API_ENDPOINTS` as a Markdown table, for the documentation."""
    rows = [
        "| endpoint | name in `calls` and `faults` | accepted scopes (one whole set suffices) |",
        "| --- | --- | --- |",
    ]
    for entry in API_ENDPOINTS:
        sets = "<br>".join(
            f"{rule.kind}: " + " + ".join(f"`{scope}`" for scope in rule.scopes)
            for rule in entry.scope_sets
        )
        rows.append(
            f"| `{entry.method} {entry.path}` | `{entry.name}` | {sets or 'any live access token'} |"
        )
    return "\n".join(rows) + "\n"
