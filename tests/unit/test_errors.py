"""The exception tree and the error codes are part of the public contract."""

from __future__ import annotations

import pytest

from kavach_fastapi import errors
from kavach_fastapi.crypto import DecryptionError
from kavach_fastapi.errors import ErrorCode, KavachError

# Written out by hand: changing a code breaks every client that reads ``?error=``.
DOCUMENTED_CODES = {
    "NOT_SIGNED_IN": "not_signed_in",
    "INVALID_REQUEST": "invalid_request",
    "INVALID_STATE": "invalid_state",
    "SIGN_IN_EXPIRED": "sign_in_expired",
    "BROWSER_MISMATCH": "browser_mismatch",
    "ACCESS_DENIED": "access_denied",
    "INVALID_SCOPE": "invalid_scope",
    "PROVIDER_ERROR": "provider_error",
    "ISSUER_MISMATCH": "issuer_mismatch",
    "TOKEN_EXCHANGE_FAILED": "token_exchange_failed",
    "PROFILE_FETCH_FAILED": "profile_fetch_failed",
    "PROVIDER_UNAVAILABLE": "provider_unavailable",
    "QUOTA_EXHAUSTED": "quota_exhausted",
    "ACCOUNT_DISABLED": "account_disabled",
    "CROSS_SITE_REQUEST": "cross_site_request",
    "UNKNOWN_PROVIDER": "unknown_provider",
    "UNKNOWN_SESSION": "unknown_session",
    "REAUTH_REQUIRED": "reauth_required",
    "NO_USABLE_GRANT": "no_usable_grant",
    "REFRESH_REFUSED": "refresh_refused",
    "UNKNOWN_SITE": "unknown_site",
    "RATE_LIMITED": "rate_limited",
    "SIGN_IN_BUSY": "sign_in_busy",
    "NOT_CONFIGURED": "not_configured",
    "DATABASE_UNAVAILABLE": "database_unavailable",
    "SITE_NOT_ALLOWED": "site_not_allowed",
    "SIGN_IN_REFUSED": "sign_in_refused",
    "SIGN_IN_FAILED": "sign_in_failed",
}

# Each exception with its code, status and parent, as the errors module's docstring draws them.
EXPECTED: list[tuple[type[KavachError], ErrorCode, int, type[KavachError]]] = [
    (errors.ConfigurationError, ErrorCode.NOT_CONFIGURED, 500, errors.KavachError),
    (errors.NotSignedInError, ErrorCode.NOT_SIGNED_IN, 401, errors.KavachError),
    (errors.SignInError, ErrorCode.INVALID_REQUEST, 400, errors.KavachError),
    (errors.InvalidStateError, ErrorCode.INVALID_STATE, 400, errors.SignInError),
    (errors.ProviderDeniedError, ErrorCode.PROVIDER_ERROR, 400, errors.SignInError),
    (errors.ProviderError, ErrorCode.TOKEN_EXCHANGE_FAILED, 502, errors.SignInError),
    (errors.AccountDisabledError, ErrorCode.ACCOUNT_DISABLED, 403, errors.SignInError),
    (errors.SiteNotAllowedError, ErrorCode.SITE_NOT_ALLOWED, 403, errors.SignInError),
    (errors.SignInRefusedError, ErrorCode.SIGN_IN_REFUSED, 403, errors.SignInError),
    (errors.SignInHookError, ErrorCode.SIGN_IN_FAILED, 503, errors.SignInError),
    (errors.ReauthRequiredError, ErrorCode.REAUTH_REQUIRED, 401, errors.KavachError),
    (errors.RefreshRefusedError, ErrorCode.REFRESH_REFUSED, 502, errors.KavachError),
    (errors.NoUsableGrantError, ErrorCode.NO_USABLE_GRANT, 409, errors.KavachError),
    (errors.RetryLaterError, ErrorCode.PROVIDER_UNAVAILABLE, 503, errors.KavachError),
    (errors.ProviderUnavailableError, ErrorCode.PROVIDER_UNAVAILABLE, 503, errors.RetryLaterError),
    (errors.QuotaExhaustedError, ErrorCode.QUOTA_EXHAUSTED, 503, errors.ProviderUnavailableError),
    (errors.UnknownSiteError, ErrorCode.UNKNOWN_SITE, 404, errors.KavachError),
    (errors.InvalidAPIPathError, ErrorCode.INVALID_REQUEST, 400, errors.KavachError),
    (errors.RateLimitedError, ErrorCode.RATE_LIMITED, 429, errors.RetryLaterError),
    (errors.SignInBusyError, ErrorCode.SIGN_IN_BUSY, 503, errors.RetryLaterError),
    (errors.DatabaseUnavailableError, ErrorCode.DATABASE_UNAVAILABLE, 503, errors.RetryLaterError),
    (errors.CrossSiteRequestError, ErrorCode.CROSS_SITE_REQUEST, 403, errors.KavachError),
    (errors.UnknownProviderError, ErrorCode.UNKNOWN_PROVIDER, 404, errors.KavachError),
    (errors.UnknownSessionError, ErrorCode.UNKNOWN_SESSION, 404, errors.KavachError),
]


def test_error_codes_match_the_documented_set() -> None:
    assert {code.name: code.value for code in ErrorCode} == DOCUMENTED_CODES


def test_error_codes_are_strings_usable_in_urls_and_json() -> None:
    for code in ErrorCode:
        assert isinstance(code, str)
        assert code == code.value
        assert code.value.isascii()
        assert code.value.replace("_", "").isalpha()
        assert code.value.islower()


def test_every_exception_in_the_errors_module_is_covered_here() -> None:
    defined = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, KavachError) and obj is not KavachError
    }
    assert defined == {cls for cls, *_ in EXPECTED}


@pytest.mark.parametrize(("cls", "code", "status", "parent"), EXPECTED)
def test_exception_has_its_code_status_and_place_in_the_tree(
    cls: type[KavachError], code: ErrorCode, status: int, parent: type[KavachError]
) -> None:
    error = cls()
    assert isinstance(error, KavachError)
    assert isinstance(error, Exception)
    assert issubclass(cls, parent)
    assert error.code is code
    assert error.code in set(ErrorCode)
    assert error.status_code == status


@pytest.mark.parametrize("cls", [KavachError, *(cls for cls, *_ in EXPECTED), DecryptionError])
def test_exception_without_a_message_uses_its_default_message(cls: type[KavachError]) -> None:
    error = cls()
    assert error.message == cls.default_message
    assert error.message
    assert str(error) == cls.default_message


def test_subclasses_have_their_own_default_messages() -> None:
    messages = [cls.default_message for cls, *_ in EXPECTED]
    assert len(set(messages)) == len(messages)


def test_given_message_replaces_the_default() -> None:
    error = errors.NotSignedInError("Your session ended.")
    assert error.message == "Your session ended."
    assert str(error) == "Your session ended."


def test_given_code_overrides_the_class_code_for_that_instance_only() -> None:
    error = errors.ProviderError(code=ErrorCode.PROVIDER_UNAVAILABLE)
    assert error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert errors.ProviderError().code is ErrorCode.TOKEN_EXCHANGE_FAILED
    assert errors.ProviderError.code is ErrorCode.TOKEN_EXCHANGE_FAILED


def test_kavach_error_defaults_to_a_bad_request() -> None:
    error = KavachError()
    assert error.code is ErrorCode.INVALID_REQUEST
    assert error.status_code == 400


def test_reauth_required_error_carries_where_to_consent_again() -> None:
    assert errors.ReauthRequiredError().reauth_url is None
    error = errors.ReauthRequiredError(reauth_url="/api/kavach/auth/oauth/authorize/atlassian")
    assert error.reauth_url == "/api/kavach/auth/oauth/authorize/atlassian"
    assert error.message == errors.ReauthRequiredError.default_message


def test_provider_unavailable_error_carries_when_to_retry() -> None:
    assert errors.ProviderUnavailableError().retry_after > 0
    assert errors.ProviderUnavailableError(retry_after=30).retry_after == 30


def test_catching_kavach_error_catches_every_failure() -> None:
    for cls, *_ in EXPECTED:
        with pytest.raises(KavachError):
            raise cls()


def test_an_invalid_api_path_is_also_a_value_error() -> None:
    assert issubclass(errors.InvalidAPIPathError, ValueError)
    assert isinstance(errors.InvalidAPIPathError("a path segment is '..'"), ValueError)
