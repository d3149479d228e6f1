"""What a provider's callback says about a sign-in, read before anything is exchanged or written.

The callback's ``code``, ``error`` and ``iss`` are checked against the attempt they finish (not
expired, the provider's own issuer); a refusal becomes the error the person reads on landing,
and the profile the provider answers becomes the `ProviderProfile` of an active account.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from .codes import ErrorCode
from .errors import (
    AccountDisabledError,
    InvalidStateError,
    ProviderDeniedError,
    ProviderError,
    SignInError,
)
from .models import ProviderProfile
from .providers.base import OAuthProvider
from .tables import SignInAttemptRow

logger = logging.getLogger("kavach_fastapi")

MAX_CODE_LENGTH = 4096
"""The longest authorization code taken from a callback."""

_PASSED_THROUGH_ERRORS = {
    "access_denied": ErrorCode.ACCESS_DENIED,
    "invalid_scope": ErrorCode.INVALID_SCOPE,
}


def code_of(
    provider: OAuthProvider,
    attempt: SignInAttemptRow,
    *,
    code: str | None,
    error: str | None,
    issuer: str | None,
    now: datetime,
) -> str:
    """The authorization code the callback carries, to exchange for tokens.

    Raises:
        InvalidStateError: the attempt expired, or the answer names another issuer.
        ProviderDeniedError: the provider answered an ``error`` (the person declined...).
        SignInError: ``invalid_request``, no usable code.
    """
    if attempt.expires_at <= now:
        raise InvalidStateError(code=ErrorCode.SIGN_IN_EXPIRED)
    if issuer is not None and (
        provider.issuer is None or issuer.rstrip("/") != provider.issuer.rstrip("/")
    ):
        raise InvalidStateError(code=ErrorCode.ISSUER_MISMATCH)
    if error is not None:
        mapped = _PASSED_THROUGH_ERRORS.get(error, ErrorCode.PROVIDER_ERROR)
        logger.info("%s sign-in ended with error=%s", provider.name, mapped.value)
        raise ProviderDeniedError(_denied_message(provider.name, mapped), code=mapped)
    if not code or len(code) > MAX_CODE_LENGTH:
        raise SignInError("The sign-in answer carried no code.", code=ErrorCode.INVALID_REQUEST)
    return code


def active_profile(provider: OAuthProvider, raw_profile: object) -> ProviderProfile:
    """The provider's profile answer, parsed, of an account that may sign in.

    Raises:
        ProviderError: ``profile_fetch_failed``, the answer is not a usable profile.
        AccountDisabledError: the provider says the account is deactivated.
    """
    try:
        if not isinstance(raw_profile, Mapping):
            raise TypeError("the profile is not a JSON object")
        profile = provider.parse_profile(raw_profile)
    except (TypeError, ValueError) as exc:
        logger.warning("%s profile is unusable: %s", provider.name, exc)
        raise ProviderError(code=ErrorCode.PROFILE_FETCH_FAILED) from None
    if not profile.active:
        raise AccountDisabledError
    return profile


def _denied_message(provider_name: str, code: ErrorCode) -> str:
    if code is ErrorCode.ACCESS_DENIED:
        return f"You declined to share your {provider_name} account, so you are not signed in."
    if code is ErrorCode.INVALID_SCOPE:
        return f"{provider_name} refused a requested permission (scope)."
    return f"{provider_name} could not complete the sign-in."
