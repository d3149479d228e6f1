"""The keyword options of [`kavach_router()`][kavach_fastapi.kavach_router], typed once.

Each option is a field of [`KavachSettings`][kavach_fastapi.KavachSettings], where its default,
its validation and its documentation live (the configuration reference is generated from
them). `KavachOptions` only lets editors and type checkers know the keywords:
``kavach_router(providers, **options: Unpack[KavachOptions])``. A unit test proves that its keys
and types are the settings' fields, with the widening `option_type` states, so the two
cannot drift apart.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypedDict

from pydantic import SecretStr

from .settings import KavachSettings, load_settings

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Unpack


__all__ = ["KavachOptions", "Unpack", "load_options", "option_type"]


class KavachOptions(TypedDict, total=False):
    """The settings [`kavach_router()`][kavach_fastapi.kavach_router] takes as keywords.

    Each falls back to its ``KAVACH_*`` variable; see the configuration reference.
    """

    database_url: str
    secret: str | SecretStr
    base_url: str
    trusted_origins: Sequence[str]
    csrf_trusted_origins: Sequence[str]
    landing_url: str
    rate_limit: int
    max_pending_sign_ins: int
    session_lifetime: timedelta
    session_idle_timeout: timedelta
    session_cache_seconds: float
    http_timeout: float
    auto_migrate: bool
    token_refresh_leeway: timedelta
    sites_cache_ttl: timedelta
    database_connect_timeout: float
    sqlite_busy_timeout: float


def option_type(annotation: Any) -> Any:
    """The type an option accepts for a settings field of type ``annotation``.

    A secret may be given as plain text, a list of origins as any sequence, and an optional
    field is given by naming it (leaving it out leaves it unset); otherwise the option has the
    field's own type.
    """
    if annotation == SecretStr | None:
        return str | SecretStr
    if annotation == tuple[str, ...]:
        return Sequence[str]
    arguments = getattr(annotation, "__args__", ())
    if type(None) in arguments and len(arguments) == 2:
        return next(argument for argument in arguments if argument is not type(None))
    return annotation


def load_options(**options: Unpack[KavachOptions]) -> KavachSettings:
    """The settings for these options, the environment filling in the rest.

    Raises:
        ConfigurationError: naming every option or variable that is invalid, with its fix.
    """
    return load_settings(KavachSettings, **options)
