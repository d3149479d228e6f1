"""The keyword options of [`kavach_router()`][kavach_fastapi.kavach_router], typed once.

Each option is a field of [`KavachSettings`][kavach_fastapi.KavachSettings], where its default,
its validation and its documentation live (the configuration reference is generated from
them). `KavachOptions` only lets editors and type checkers know the keywords:
``kavach_router(providers, **options: Unpack[KavachOptions])``. A unit test proves that its keys
and types are the settings' fields, with the widening `option_type` states, so the two
cannot drift apart. The one option that is not a setting is ``hooks`` (code has no environment
variable): [`KavachHooks`][kavach_fastapi.KavachHooks], read by `hooks_of`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypedDict

from pydantic import SecretStr

from .errors import ConfigurationError
from .hooks import NO_HOOKS, KavachHooks
from .settings import KavachSettings, load_settings

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Unpack


__all__ = ["CODE_OPTIONS", "KavachOptions", "Unpack", "hooks_of", "load_options", "option_type"]

CODE_OPTIONS = frozenset({"hooks"})
"""Options that are code, not settings: no ``KAVACH_*`` variable stands for them."""


class KavachOptions(TypedDict, total=False):
    """The settings [`kavach_router()`][kavach_fastapi.kavach_router] takes as keywords.

    Each falls back to its ``KAVACH_*`` variable; see the configuration reference. ``hooks``
    is the app's code run at sign-in, sign-out and when a grant needs consent again (see
    [`KavachHooks`][kavach_fastapi.KavachHooks]).
    """

    hooks: KavachHooks

    database_url: str
    secret: str | SecretStr
    base_url: str
    trusted_origins: Sequence[str]
    csrf_trusted_origins: Sequence[str]
    allowed_sites: Sequence[str]
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
    quota_check_interval: float
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
    settings = {name: value for name, value in options.items() if name not in CODE_OPTIONS}
    return load_settings(KavachSettings, **settings)


def hooks_of(**options: Unpack[KavachOptions]) -> KavachHooks:
    """The ``hooks`` option, or no hooks.

    Raises:
        ConfigurationError: ``hooks`` is not a [`KavachHooks`][kavach_fastapi.KavachHooks].
    """
    hooks = options.get("hooks")
    if hooks is None:
        return NO_HOOKS
    if not isinstance(hooks, KavachHooks):
        raise ConfigurationError(
            f"hooks= must be a KavachHooks(...), got {type(hooks).__name__}: "
            "kavach_router(..., hooks=KavachHooks(before_sign_in=...))."
        )
    return hooks
