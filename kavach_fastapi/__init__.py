"""kavach-fastapi: Sign in with Atlassian for FastAPI.

```python
from fastapi import FastAPI
from kavach_fastapi import CurrentUser, atlassian_provider, kavach_router

app = FastAPI()
app.include_router(kavach_router(providers=[atlassian_provider()]), prefix="/api/kavach")

@app.get("/me")
async def me(user: CurrentUser): return user
```

The public names load on first use (PEP 562), so ``import kavach_fastapi``, and the pytest plugins
that every pytest run of a project with the package loads, cost almost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__
from .lazy import load_on_first_use

if TYPE_CHECKING:
    from .atlassian.client import AtlassianClient
    from .atlassian.dependencies import (
        AtlassianAPI,
        AtlassianSites,
        AtlassianToken,
        atlassian_client,
        atlassian_sites,
        atlassian_token,
        require_atlassian_scopes,
    )
    from .atlassian.sites import find_site, sites_for_product, sites_with_scope
    from .codes import ErrorCode
    from .dependencies import CurrentUser, OptionalUser, current_user, optional_user
    from .errors import (
        AccountDisabledError,
        ConfigurationError,
        CrossSiteRequestError,
        DatabaseUnavailableError,
        InvalidAPIPathError,
        InvalidStateError,
        KavachError,
        NotSignedInError,
        NoUsableGrantError,
        ProviderDeniedError,
        ProviderError,
        ProviderUnavailableError,
        QuotaExhaustedError,
        RateLimitedError,
        ReauthRequiredError,
        RefreshRefusedError,
        RetryLaterError,
        SignInBusyError,
        SignInError,
        SignInHookError,
        SignInRefusedError,
        SiteNotAllowedError,
        UnknownProviderError,
        UnknownSessionError,
        UnknownSiteError,
    )
    from .hooks import (
        KavachHooks,
        ReauthEvent,
        Refuse,
        SignInCandidate,
        SignInEvent,
        SignOutEvent,
    )
    from .models import AtlassianSite, LinkedAccount, ProviderProfile, User
    from .offline import OfflineKavach, open_kavach
    from .personal_data import report_personal_data
    from .privacy import ClosedAccount, PersonalDataReport, ReportProgress
    from .providers import AtlassianProvider, OAuthProvider, atlassian_provider
    from .router import KavachRouter, kavach_router
    from .settings import AtlassianSettings, KavachSettings

__all__ = [
    "AccountDisabledError",
    "AtlassianAPI",
    "AtlassianClient",
    "AtlassianProvider",
    "AtlassianSettings",
    "AtlassianSite",
    "AtlassianSites",
    "AtlassianToken",
    "ClosedAccount",
    "ConfigurationError",
    "CrossSiteRequestError",
    "CurrentUser",
    "DatabaseUnavailableError",
    "ErrorCode",
    "InvalidAPIPathError",
    "InvalidStateError",
    "KavachError",
    "KavachHooks",
    "KavachRouter",
    "KavachSettings",
    "LinkedAccount",
    "NoUsableGrantError",
    "NotSignedInError",
    "OAuthProvider",
    "OfflineKavach",
    "OptionalUser",
    "PersonalDataReport",
    "ProviderDeniedError",
    "ProviderError",
    "ProviderProfile",
    "ProviderUnavailableError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "ReauthEvent",
    "ReauthRequiredError",
    "RefreshRefusedError",
    "Refuse",
    "ReportProgress",
    "RetryLaterError",
    "SignInBusyError",
    "SignInCandidate",
    "SignInError",
    "SignInEvent",
    "SignInHookError",
    "SignInRefusedError",
    "SignOutEvent",
    "SiteNotAllowedError",
    "UnknownProviderError",
    "UnknownSessionError",
    "UnknownSiteError",
    "User",
    "atlassian_client",
    "atlassian_provider",
    "atlassian_sites",
    "atlassian_token",
    "current_user",
    "find_site",
    "kavach_router",
    "open_kavach",
    "optional_user",
    "report_personal_data",
    "require_atlassian_scopes",
    "sites_for_product",
    "sites_with_scope",
]


# The module each public name lives in; tests/unit/test_lazy_imports.py checks that it agrees
# with the TYPE_CHECKING imports above and with __all__.
_HOMES: dict[str, str] = {
    **{name: "errors" for name in __all__ if name.endswith("Error")},
    "ErrorCode": "codes",
    "AtlassianClient": "atlassian.client",
    **dict.fromkeys(
        (
            "AtlassianAPI",
            "AtlassianSites",
            "AtlassianToken",
            "atlassian_client",
            "atlassian_sites",
            "atlassian_token",
            "require_atlassian_scopes",
        ),
        "atlassian.dependencies",
    ),
    **dict.fromkeys(("find_site", "sites_for_product", "sites_with_scope"), "atlassian.sites"),
    **dict.fromkeys(
        ("CurrentUser", "OptionalUser", "current_user", "optional_user"), "dependencies"
    ),
    **dict.fromkeys(
        (
            "KavachHooks",
            "ReauthEvent",
            "Refuse",
            "SignInCandidate",
            "SignInEvent",
            "SignOutEvent",
        ),
        "hooks",
    ),
    **dict.fromkeys(("AtlassianSite", "LinkedAccount", "ProviderProfile", "User"), "models"),
    **dict.fromkeys(
        ("AtlassianProvider", "OAuthProvider", "atlassian_provider"),
        "providers",
    ),
    **dict.fromkeys(("OfflineKavach", "open_kavach"), "offline"),
    **dict.fromkeys(("ClosedAccount", "PersonalDataReport", "ReportProgress"), "privacy"),
    "report_personal_data": "personal_data",
    **dict.fromkeys(("KavachRouter", "kavach_router"), "router"),
    **dict.fromkeys(("AtlassianSettings", "KavachSettings"), "settings"),
}


def __getattr__(name: str) -> Any:
    return load_on_first_use(globals(), _HOMES, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
