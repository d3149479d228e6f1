"""Everything that can go wrong, as exceptions to catch, each naming its error code.

The codes, with their statuses, messages and advice, are one table:
[`ErrorCode`][kavach_fastapi.ErrorCode] (`kavach_fastapi.codes`). The exceptions are for
``except``: each names the code it stands for, and its status and default message come from
that code. The tree:

    KavachError                      root of every failure the package raises
    ├── ConfigurationError           settings are missing or invalid (raised at start-up)
    ├── DecryptionError              a stored token cannot be decrypted with any key: answered
    │                                as ``not_configured`` (500); in ``kavach_fastapi.crypto``
    ├── NotSignedInError             no valid session on the request (401)
    ├── SignInError                  a sign-in attempt could not finish
    │   ├── InvalidStateError        unknown, replayed or expired attempt, or another browser's
    │   ├── ProviderDeniedError      the provider answered the callback with ``error=``
    │   ├── ProviderError            the token exchange or profile call failed (502, or 503)
    │   ├── AccountDisabledError     the provider account is closed or inactive (403)
    │   ├── SiteNotAllowedError      the person reaches none of ``KAVACH_ALLOWED_SITES`` (403)
    │   ├── SignInRefusedError       the app's ``before_sign_in`` hook refused (403)
    │   └── SignInHookError          one of the app's sign-in hooks raised (503)
    ├── ReauthRequiredError          the provider grant is gone; the person must consent again (401)
    ├── RefreshRefusedError          the provider refused a refresh, not for a dead grant (502)
    ├── NoUsableGrantError           no stored grant can call Atlassian for the app itself (409)
    ├── RetryLaterError              a failure that passes with time (``Retry-After``)
    │   ├── ProviderUnavailableError the provider is down or rate-limiting (503)
    │   │   └── QuotaExhaustedError  Atlassian's quota for a site is used up for a while (503)
    │   ├── RateLimitedError         too many sign-in requests from one address (429)
    │   ├── SignInBusyError          too many sign-ins pending on the whole app (503)
    │   └── DatabaseUnavailableError the database cannot be reached right now (503)
    ├── UnknownSiteError             the cloud id is not one of the person's sites (404)
    ├── InvalidAPIPathError          a product API path that could be read two ways (400)
    ├── CrossSiteRequestError        a state-changing request came from another site (403)
    ├── UnknownProviderError         no configured provider has that id (404)
    └── UnknownSessionError          no session of the signed-in person has that id (404)

A message is safe to show to a person: it never contains a token, a secret or a stack trace.
The HTTP edge turns an exception into ``{"error": {"code": "...", "message": "..."}}``.
Exceptions are values: nothing is added to one while it propagates.
"""

from __future__ import annotations

from typing import ClassVar

# Re-exported: ``from kavach_fastapi.errors import ErrorCode`` is where people look for it.
from .codes import ErrorCode as ErrorCode  # noqa: PLC0414


class KavachError(Exception):
    """Root of every failure the package raises.

    Args:
        message: a sentence safe to show to a person; when ``None``, the message of ``code``
            if given, else the class's.
        code: a more precise code than the class's (its status comes with it).
        retry_after: seconds after which a retry may work; the code's suggestion when ``None``.

    Attributes:
        code: the stable [`ErrorCode`][kavach_fastapi.ErrorCode].
        status_code: the HTTP status, the code's.
        message: a sentence safe to show to a person.
        retry_after: seconds to wait before a retry, for failures that pass with time.
    """

    code: ErrorCode = ErrorCode.INVALID_REQUEST
    default_message: ClassVar[str] = ErrorCode.INVALID_REQUEST.message

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # A class that names its own code and no message of its own says the code's message.
        if "code" in vars(cls) and "default_message" not in vars(cls):
            cls.default_message = cls.code.message

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        retry_after: int | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        # A code given here is more precise than the class: its own message fits better.
        self.message = message or (code.message if code else self.default_message)
        self.retry_after = retry_after if retry_after is not None else self.code.retry_after
        super().__init__(self.message)

    @property
    def status_code(self) -> int:
        """The HTTP status of this failure: its code's."""
        return self.code.status


class ConfigurationError(KavachError):
    """The package is not set up right: settings missing or invalid, or the router not included.

    Raised at start-up for settings; during a request only for set-up mistakes that start-up
    cannot see (a dependency used in an app without the router, a schema that is behind).
    """

    code = ErrorCode.NOT_CONFIGURED


class NotSignedInError(KavachError):
    """The request carries no valid session."""

    code = ErrorCode.NOT_SIGNED_IN


class SignInError(KavachError):
    """A sign-in attempt could not finish. Nothing was written and no session was made."""

    code = ErrorCode.INVALID_REQUEST
    default_message = "Sign-in could not be completed."


class InvalidStateError(SignInError):
    """The callback does not match a pending sign-in started in this browser."""

    code = ErrorCode.INVALID_STATE


class ProviderDeniedError(SignInError):
    """The provider sent the person back with ``error=`` instead of a code."""

    code = ErrorCode.PROVIDER_ERROR


class ProviderError(SignInError):
    """The provider's token or profile endpoint failed: timeout, 4xx, 5xx or malformed JSON.

    A timeout or an unreachable provider has the code ``provider_unavailable`` (503, with
    ``Retry-After``); a refusal or a malformed answer ``token_exchange_failed`` or
    ``profile_fetch_failed`` (502).
    """

    code = ErrorCode.TOKEN_EXCHANGE_FAILED


class AccountDisabledError(SignInError):
    """The provider account is closed or inactive, so it cannot sign in."""

    code = ErrorCode.ACCOUNT_DISABLED


class SiteNotAllowedError(SignInError):
    """``KAVACH_ALLOWED_SITES`` is set and the new grant reaches none of those sites."""

    code = ErrorCode.SITE_NOT_ALLOWED


class SignInRefusedError(SignInError):
    """The app's ``before_sign_in`` hook refused the sign-in.

    Args:
        reason: the app's short code, carried as ``reason=`` on the landing URL.
        message: the sentence a JSON client gets.
    """

    code = ErrorCode.SIGN_IN_REFUSED

    def __init__(self, reason: str = "refused", message: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class SignInHookError(SignInError):
    """One of the app's sign-in hooks raised; what the sign-in wrote was undone (unless the
    database failed every try of the undo: the log then names the user)."""

    code = ErrorCode.SIGN_IN_FAILED


class ReauthRequiredError(KavachError):
    """The provider grant is gone (revoked, expired or reused): the person must consent again.

    The person stays signed in to the app. When the error is answered over HTTP, the answer
    carries ``reauth_url``, the address that starts the consent again.

    Args:
        message: as for [`KavachError`][kavach_fastapi.KavachError].
        reauth_url: where to send the browser, when the raiser knows better than the default
            (the provider's authorize endpoint of the router).
    """

    code = ErrorCode.REAUTH_REQUIRED

    def __init__(self, message: str | None = None, *, reauth_url: str | None = None) -> None:
        super().__init__(message)
        self.reauth_url = reauth_url


class RefreshRefusedError(KavachError):
    """The provider refused a token refresh, and not because the grant is dead.

    Most often the app's client credentials are wrong (a secret rotated in the developer
    console). The grant is left alive and its tokens are kept: once the settings are right,
    the next refresh works.
    """

    code = ErrorCode.REFRESH_REFUSED


class NoUsableGrantError(KavachError):
    """No stored grant can authorise a call the app makes as itself (personal-data reporting)."""

    code = ErrorCode.NO_USABLE_GRANT


class RetryLaterError(KavachError):
    """A failure that passes with time; answered with a ``Retry-After`` header.

    Attributes:
        retry_after: seconds after which a retry may work.
    """

    code = ErrorCode.PROVIDER_UNAVAILABLE
    default_message = "Please try again shortly."
    retry_after: int


class ProviderUnavailableError(RetryLaterError):
    """The provider timed out, failed or is rate-limiting, even after retries."""

    default_message = ErrorCode.PROVIDER_UNAVAILABLE.message


class QuotaExhaustedError(ProviderUnavailableError):
    """Atlassian's quota for a site (or for the whole app) is used up until ``retry_after``.

    Raised without calling Atlassian: one ``429`` with a long ``Retry-After`` (or naming the
    app's global quota) was recorded in the database, so every worker and job fails fast for
    that site until the time has passed (`kavach_fastapi.quota`). It is a
    ``ProviderUnavailableError``, so code that already handles that one handles this too.
    """

    code = ErrorCode.QUOTA_EXHAUSTED


class UnknownSiteError(KavachError):
    """The cloud id is not one of the signed-in person's sites."""

    code = ErrorCode.UNKNOWN_SITE


class InvalidAPIPathError(KavachError, ValueError):
    """A product API path, or a value for it, could be read in more than one way: nothing was sent.

    [`AtlassianClient`][kavach_fastapi.AtlassianClient] refuses a path with ``?``, ``#``, a
    percent-escape, a backslash, a control or non-ASCII character, or a ``.``, ``..`` or empty
    segment (``//`` or a ``/`` at the end), and a ``path_params`` value that would make such a
    segment. Put values into ``path_params=`` (each is percent-encoded within its own segment)
    and queries into ``params=``. It is a ``ValueError`` too; the app answers it as 400
    ``invalid_request``.
    """

    code = ErrorCode.INVALID_REQUEST
    default_message = "That is not a valid Atlassian API path."


class RateLimitedError(RetryLaterError):
    """Too many sign-in starts and callbacks from one client address (``KAVACH_RATE_LIMIT``)."""

    code = ErrorCode.RATE_LIMITED


class SignInBusyError(RetryLaterError):
    """As many sign-ins as ``KAVACH_MAX_PENDING_SIGN_INS`` allows are pending, none expired.

    Nobody's pending sign-in is dropped to make room; ``retry_after`` says when the first of
    them expires.
    """

    code = ErrorCode.SIGN_IN_BUSY


class DatabaseUnavailableError(RetryLaterError):
    """The database cannot be reached or used right now: stopped, restarting, or locked.

    Whatever needs the database answers 503 with ``Retry-After`` until it is back; sessions a
    process checked shortly before keep working meanwhile.
    """

    code = ErrorCode.DATABASE_UNAVAILABLE


class CrossSiteRequestError(KavachError):
    """A state-changing request came from another site."""

    code = ErrorCode.CROSS_SITE_REQUEST


class UnknownProviderError(KavachError):
    """No configured provider has the requested id."""

    code = ErrorCode.UNKNOWN_PROVIDER


class UnknownSessionError(KavachError):
    """No session of the signed-in person has the requested id.

    Another person's session answers exactly like one that never existed.
    """

    code = ErrorCode.UNKNOWN_SESSION
