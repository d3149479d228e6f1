"""What every sign-in provider is: a thin description over the OAuth core.

A provider names its endpoints, its scopes, the extra parameters of its consent URL and how its
profile answer maps to a [`ProviderProfile`][kavach_fastapi.ProviderProfile], and its own facts: where people revoke
access, and endpoints of its own. Everything else (state, PKCE, the token
exchange, users and sessions) is shared, so adding a provider is one small module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from ..models import ProviderProfile

ProfileParser = Callable[[Mapping[str, Any]], ProviderProfile]


@dataclass(frozen=True)
class OAuthProvider:
    """An OAuth 2.0 authorization-code provider.

    Attributes:
        id: the short name used in URLs (``/auth/oauth/authorize/{id}``).
        name: the name shown to people.
        client_id: the app's client id.
        client_secret: the app's secret; sent in the token request body (``client_secret_post``).
        authorize_url: the consent page.
        token_url: the token endpoint (code exchange and refresh).
        profile_url: the endpoint that describes the signed-in person.
        scopes: scopes to request, in order, without duplicates.
        authorize_params: extra query parameters of the consent URL.
        use_pkce: send a PKCE S256 challenge (the secret is sent as well).
        issuer: the provider's issuer identifier; a callback naming another issuer is refused.
        parse_profile: maps the profile endpoint's JSON to a
            [`ProviderProfile`][kavach_fastapi.ProviderProfile]; raises ``ValueError`` when
            the answer lacks what is needed.
        revoke_url: where people revoke the app's access themselves (a provider without a
            revocation endpoint for apps); the disconnect answer points there.
        routes: the provider's own endpoints, as ``"package.module:function"``: the function
            adds them to the router, given the router and its ``Kavach``. A name rather than
            the function keeps the description free of the HTTP layer, as an entry point does.
    """

    id: str
    name: str
    client_id: str
    client_secret: SecretStr
    authorize_url: str
    token_url: str
    profile_url: str
    scopes: tuple[str, ...]
    parse_profile: ProfileParser
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    use_pkce: bool = True
    issuer: str | None = None
    revoke_url: str | None = None
    routes: str | None = None


def merge_scopes(*groups: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """Join scope lists in order, dropping blanks and duplicates."""
    merged: dict[str, None] = {}
    for group in groups:
        for scope in group or ():
            for part in scope.split():
                merged.setdefault(part, None)
    return tuple(merged)


IMPLIED_SCOPES = frozenset({"offline_access"})
"""Scopes a token answer need not list: ``offline_access`` shows in the refresh token itself."""


def missing_scopes(
    wanted: tuple[str, ...] | list[str], granted: str | tuple[str, ...]
) -> tuple[str, ...]:
    """The scopes of ``wanted`` that a grant of ``granted`` lacks, in ``wanted``'s order.

    An unknown grant (no scopes recorded, as for rows stored before scopes were) lacks nothing:
    only what the provider said it granted can prove a scope missing.
    """
    have = set(granted.split() if isinstance(granted, str) else granted)
    if not have:
        return ()
    return tuple(
        scope for scope in merge_scopes(tuple(wanted)) if scope not in have | IMPLIED_SCOPES
    )
