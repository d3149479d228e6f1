"""kavach-fastapi: Sign in with Atlassian for FastAPI.

::

    from fastapi import FastAPI
    from kavach_fastapi import CurrentUser, atlassian_provider, kavach_router

    app = FastAPI()
    app.include_router(kavach_router(providers=[atlassian_provider()]), prefix="/api/kavach")

    @app.get("/me")
    async def me(user: CurrentUser): return user
"""

from .dependencies import CurrentUser, OptionalUser, current_user, optional_user
from .errors import (
    AccountDisabledError,
    ConfigurationError,
    CrossSiteRequestError,
    ErrorCode,
    InvalidStateError,
    KavachError,
    NotSignedInError,
    ProviderDeniedError,
    ProviderError,
    SignInError,
    UnknownProviderError,
)
from .models import AtlassianSite, LinkedAccount, User
from .providers import AtlassianProvider, OAuthProvider, ProviderProfile, atlassian_provider
from .router import KavachRouter, kavach_router
from .settings import AtlassianSettings, KavachSettings

__all__ = [
    "AccountDisabledError",
    "AtlassianProvider",
    "AtlassianSettings",
    "AtlassianSite",
    "ConfigurationError",
    "CrossSiteRequestError",
    "CurrentUser",
    "ErrorCode",
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
    "SignInError",
    "UnknownProviderError",
    "User",
    "atlassian_provider",
    "current_user",
    "kavach_router",
    "optional_user",
]
