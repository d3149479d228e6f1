"""Atlassian as a sign-in provider: OAuth 2.0 three-legged flow (3LO).

Facts this module relies on: the consent URL needs ``audience=api.atlassian.com`` and
``prompt=consent``; the client secret travels in the token request body; ``/me`` describes the
person, keyed by ``account_id`` (email can be missing and is only trusted when verified); and
``account_status`` is ``inactive`` or ``closed`` for accounts that may not sign in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from ..errors import ConfigurationError
from ..models import ProviderProfile
from ..settings import DEFAULT_ATLASSIAN_SCOPES, AtlassianSettings, load_settings
from ..tables import MAX_ACCOUNT_ID_LENGTH
from ..uncaught import said_in_one_line
from .base import OAuthProvider, merge_scopes

ATLASSIAN_AUDIENCE = "api.atlassian.com"

ATLASSIAN_REVOKE_URL = "https://id.atlassian.com/manage-profile/apps"
"""Where people revoke an app's access to their Atlassian account (3LO has no revocation API)."""


@dataclass(frozen=True)
class AtlassianProvider(OAuthProvider):
    """The Atlassian provider, with the API base its product calls and site list use.

    Attributes:
        api_url: base of ``/me``, ``/oauth/token/accessible-resources`` and ``/ex/...``.
    """

    api_url: str = "https://api.atlassian.com"

    @property
    def accessible_resources_url(self) -> str:
        """The endpoint listing the sites a token reaches."""
        return f"{self.api_url}/oauth/token/accessible-resources"


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def parse_atlassian_profile(data: Mapping[str, Any]) -> ProviderProfile:
    """Map Atlassian's ``/me`` answer to a profile.

    Raises:
        ValueError: the answer has no ``account_id``, or one too long to be Atlassian's.
    """
    account_id = data.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        raise ValueError("the profile has no account_id")
    if len(account_id) > MAX_ACCOUNT_ID_LENGTH:
        raise ValueError(f"the account_id is longer than {MAX_ACCOUNT_ID_LENGTH} characters")
    email = _optional_str(data, "email")
    status = data.get("account_status", "active")
    return ProviderProfile(
        account_id=account_id,
        email=email,
        email_verified=email is not None and data.get("email_verified") is True,
        name=_optional_str(data, "name") or _optional_str(data, "nickname"),
        image=_optional_str(data, "picture"),
        active=status not in ("inactive", "closed"),
    )


@said_in_one_line
def atlassian_provider(
    client_id: str | None = None,
    client_secret: str | None = None,
    *,
    scopes: Sequence[str] | None = None,
    auth_url: str | None = None,
    api_url: str | None = None,
    use_pkce: bool | None = None,
) -> AtlassianProvider:
    """Describe the Atlassian 3LO app that people sign in with.

    Every argument falls back to its ``ATLASSIAN_*`` environment variable.

    Args:
        client_id: the app's client id (``ATLASSIAN_CLIENT_ID``).
        client_secret: the app's secret (``ATLASSIAN_CLIENT_SECRET``).
        scopes: extra scopes, added to ``read:me offline_access`` (``ATLASSIAN_SCOPES``).
        auth_url: base of ``/authorize`` and ``/oauth/token`` (``ATLASSIAN_AUTH_URL``).
        api_url: base of ``/me`` and the product APIs (``ATLASSIAN_API_URL``).
        use_pkce: send a PKCE S256 challenge (``ATLASSIAN_USE_PKCE``, default on).

    Raises:
        ConfigurationError: the client id or secret is missing, or a value is invalid.
    """
    settings = load_settings(
        AtlassianSettings,
        client_id=client_id,
        client_secret=client_secret,
        scopes=tuple(scopes) if scopes is not None else None,
        auth_url=auth_url,
        api_url=api_url,
        use_pkce=use_pkce,
    )
    missing = [
        name
        for name, value in (
            ("ATLASSIAN_CLIENT_ID", settings.client_id),
            ("ATLASSIAN_CLIENT_SECRET", settings.client_secret),
        )
        if not value
    ]
    if missing or settings.client_id is None or settings.client_secret is None:
        raise ConfigurationError(
            f"{' and '.join(missing)} not set. Create an OAuth 2.0 (3LO) app at "
            "https://developer.atlassian.com/console/myapps/, then set ATLASSIAN_CLIENT_ID and "
            "ATLASSIAN_CLIENT_SECRET (or pass client_id= and client_secret=). To try the package "
            "without an app, run the emulator: python -m kavach_fastapi.emulator"
        )
    return AtlassianProvider(
        id="atlassian",
        name="Atlassian",
        client_id=settings.client_id,
        client_secret=SecretStr(settings.client_secret.get_secret_value()),
        authorize_url=f"{settings.auth_url}/authorize",
        token_url=f"{settings.auth_url}/oauth/token",
        profile_url=f"{settings.api_url}/me",
        scopes=merge_scopes(DEFAULT_ATLASSIAN_SCOPES, settings.scopes),
        parse_profile=parse_atlassian_profile,
        authorize_params={"audience": ATLASSIAN_AUDIENCE, "prompt": "consent"},
        use_pkce=settings.use_pkce,
        issuer=settings.auth_url,
        revoke_url=ATLASSIAN_REVOKE_URL,
        routes="kavach_fastapi.atlassian.routes:add_sites_route",
        api_url=settings.api_url,
    )
