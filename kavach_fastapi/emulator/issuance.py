"""What the grant rules hand out and take back: token answers, token records, OAuth errors.

Nothing here decides whether something is allowed (that is `grants.GrantService`) and nothing
knows about HTTP: `OAuthError` is turned into Atlassian's JSON error by the token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from kavach_fastapi.emulator.state import AccessToken, EmulatorState, Grant, RefreshToken

__all__ = [
    "IssuedTokens",
    "OAuthError",
    "invalid_grant",
    "issue_tokens",
    "pkce_challenge",
    "revoke_family",
    "revoke_grant",
    "union",
]


class OAuthError(Exception):
    """A token-endpoint failure, answered as ``{"error": ..., "error_description": ...}``.

    Attributes:
        status: The HTTP status.
        error: The OAuth error code.
        description: The human description.
    """

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description


def invalid_grant(description: str) -> OAuthError:
    """The ``403 invalid_grant`` answer of a code or refresh token that cannot be used."""
    return OAuthError(403, "invalid_grant", description)


@dataclass(frozen=True)
class IssuedTokens:
    """A token answer before it is serialised."""

    access_token: str
    expires_in: int
    scopes: tuple[str, ...]
    refresh_token: str | None

    def as_json(self) -> dict[str, object]:
        """Return the body of the token endpoint's answer."""
        body: dict[str, object] = {
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "scope": " ".join(self.scopes),
            "token_type": "Bearer",
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


def pkce_challenge(verifier: str) -> str:
    """Return the S256 code challenge for a PKCE code verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue_tokens(
    state: EmulatorState,
    grant: Grant,
    family: str,
    scopes: tuple[str, ...],
    *,
    now: datetime,
    lifetime: timedelta,
    with_refresh: bool,
) -> IssuedTokens:
    """Mint an access token (and a refresh token, when asked) of ``grant`` into ``state``."""
    access = AccessToken(
        token=secrets.token_urlsafe(32),
        grant_id=grant.id,
        family=family,
        scopes=scopes,
        expires_at=now + lifetime,
    )
    state.access_tokens[access.token] = access
    refresh_value: str | None = None
    if with_refresh:
        refresh = RefreshToken(
            token=secrets.token_urlsafe(48),
            grant_id=grant.id,
            family=family,
            scopes=scopes,
            issued_at=now,
            access_token=access.token,
        )
        state.refresh_tokens[refresh.token] = refresh
        refresh_value = refresh.token
    return IssuedTokens(
        access_token=access.token,
        expires_in=int(lifetime.total_seconds()),
        scopes=scopes,
        refresh_token=refresh_value,
    )


def revoke_grant(state: EmulatorState, grant: Grant) -> None:
    """End a grant and every token issued under it."""
    grant.revoked = True
    for access in state.access_tokens.values():
        if access.grant_id == grant.id:
            access.revoked = True
    for refresh in state.refresh_tokens.values():
        if refresh.grant_id == grant.id:
            refresh.revoked = True


def revoke_family(state: EmulatorState, family: str) -> int:
    """End every token descended from one code; return how many were live."""
    revoked = 0
    tokens: list[AccessToken | RefreshToken] = [
        *state.access_tokens.values(),
        *state.refresh_tokens.values(),
    ]
    for token in tokens:
        if token.family == family and not token.revoked:
            token.revoked = True
            revoked += 1
    return revoked


def union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """Both tuples' items, in order, each once."""
    return tuple(dict.fromkeys((*first, *second)))
