"""kavach-fastapi: Sign in with Atlassian for FastAPI.

::

    from fastapi import FastAPI
    from kavach_fastapi import CurrentUser, atlassian_provider, kavach_router

    app = FastAPI()
    app.include_router(kavach_router(providers=[atlassian_provider()]), prefix="/api/kavach")

    @app.get("/me")
    async def me(user: CurrentUser): return user
"""

from .atlassian_api import AtlassianClient
from .dependencies import (
    AtlassianAPI,
    AtlassianSites,
    AtlassianToken,
    CurrentUser,
    OptionalUser,
    atlassian_client,
    atlassian_sites,
    atlassian_token,
    current_user,
    optional_user,
)
from .errors import (
    AccountDisabledError,
    ConfigurationError,
    CrossSiteRequestError,
    DatabaseUnavailableError,
    ErrorCode,
    InvalidAPIPathError,
    InvalidStateError,
    KavachError,
    NotSignedInError,
    ProviderDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ReauthRequiredError,
    RetryLaterError,
    SignInBusyError,
    SignInError,
    UnknownProviderError,
    UnknownSiteError,
)
from .models import AtlassianSite, LinkedAccount, User
from .providers import AtlassianProvider, OAuthProvider, ProviderProfile, atlassian_provider
from .router import KavachRouter, kavach_router
from .settings import AtlassianSettings, KavachSettings
from .sites import find_site, sites_for_product, sites_with_scope

__all__ = [
    "AccountDisabledError",
    "AtlassianAPI",
    "AtlassianClient",
    "AtlassianProvider",
    "AtlassianSettings",
    "AtlassianSite",
    "AtlassianSites",
    "AtlassianToken",
    "ConfigurationError",
    "CrossSiteRequestError",
    "CurrentUser",
    "DatabaseUnavailableError",
    "ErrorCode",
    "InvalidAPIPathError",
    "InvalidStateError",
    "KavachError",
    "KavachRouter",
    "KavachSettings",
    "LinkedAccount",
    "NotSignedInError",
    "OAuthProvider",
    "OptionalUser",
    "ProviderDeniedError",
    "ProviderError",
    "ProviderProfile",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ReauthRequiredError",
    "RetryLaterError",
    "SignInBusyError",
    "SignInError",
    "UnknownProviderError",
    "UnknownSiteError",
    "User",
    "atlassian_client",
    "atlassian_provider",
    "atlassian_sites",
    "atlassian_token",
    "current_user",
    "find_site",
    "kavach_router",
    "optional_user",
    "sites_for_product",
    "sites_with_scope",
]
