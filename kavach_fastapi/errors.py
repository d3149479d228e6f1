"""Everything that can go wrong, as exceptions with a stable error code.

The tree::

    KavachError                      root of every failure the package raises
    ├── ConfigurationError           settings are missing or invalid (raised at start-up)
    ├── DecryptionError              a stored token cannot be decrypted with any key (500)
    ├── NotSignedInError             no valid session on the request (401)
    ├── SignInError                  a sign-in attempt could not finish
    │   ├── InvalidStateError        unknown, replayed or expired attempt, or another browser's
    │   ├── ProviderDeniedError      the provider answered the callback with ``error=``
    │   ├── ProviderError            the token exchange or profile call failed (502)
    │   └── AccountDisabledError     the provider account is closed or inactive (403)
    ├── ReauthRequiredError          the provider grant is gone; the person must consent again (401)
    ├── RetryLaterError              a failure that passes with time (``Retry-After``)
    │   ├── ProviderUnavailableError the provider is down or rate-limiting (503)
    │   ├── RateLimitedError         too many sign-in requests from one address (429)
    │   ├── SignInBusyError          too many sign-ins pending on the whole app (503)
    │   └── DatabaseUnavailableError the database cannot be reached right now (503)
    ├── UnknownSiteError             the cloud id is not one of the person's sites (404)
    ├── InvalidAPIPathError          a product API path that could be read two ways (400)
    ├── CrossSiteRequestError        a state-changing request came from another site (403)
    └── UnknownProviderError         no configured provider has that id (404)

Every exception carries an :class:`ErrorCode`, an HTTP status and a message that is safe to
show to a person: it never contains a token, a secret or a stack trace. The router turns them
into the JSON shape ``{"error": {"code": "...", "message": "..."}}``.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """The codes that appear in error answers and in ``?error=`` on landing URLs."""

    NOT_SIGNED_IN = "not_signed_in"
    """Nobody is signed in: no session cookie or bearer token, or it expired or was revoked."""
    INVALID_REQUEST = "invalid_request"
    """A query parameter is missing, duplicated or malformed, or the request's address (``Host``) is too long to keep."""
    INVALID_STATE = "invalid_state"
    """The callback's ``state`` names no pending sign-in: it was already used or never existed."""
    SIGN_IN_EXPIRED = "sign_in_expired"
    """The sign-in attempt is older than 10 minutes; start again."""
    BROWSER_MISMATCH = "browser_mismatch"
    """The callback was opened in a browser other than the one that started the sign-in."""
    ACCESS_DENIED = "access_denied"
    """The person declined the consent screen."""
    INVALID_SCOPE = "invalid_scope"
    """The provider refused a requested scope: enable it for the app in the developer console."""
    PROVIDER_ERROR = "provider_error"
    """The provider reported another error on the callback."""
    ISSUER_MISMATCH = "issuer_mismatch"
    """The callback names an issuer other than the configured provider."""
    TOKEN_EXCHANGE_FAILED = "token_exchange_failed"  # noqa: S105 - a code, not a secret
    """The provider did not exchange the authorization code for tokens."""
    PROFILE_FETCH_FAILED = "profile_fetch_failed"
    """The provider did not return the person's profile."""
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    """The provider timed out or could not be reached."""
    ACCOUNT_DISABLED = "account_disabled"
    """The provider account is closed or inactive."""
    CROSS_SITE_REQUEST = "cross_site_request"
    """A state-changing request came from another site and was refused."""
    UNKNOWN_PROVIDER = "unknown_provider"
    """No configured provider has this id."""
    REAUTH_REQUIRED = "reauth_required"
    """The provider grant was revoked or expired: send the person to ``reauth_url`` to consent again."""
    UNKNOWN_SITE = "unknown_site"
    """The cloud id is not one of the signed-in person's Atlassian sites."""
    RATE_LIMITED = "rate_limited"
    """Too many sign-in requests from this address; retry after ``Retry-After`` seconds."""
    SIGN_IN_BUSY = "sign_in_busy"
    """``KAVACH_MAX_PENDING_SIGN_INS`` sign-ins are pending on the app; retry after ``Retry-After`` seconds."""
    NOT_CONFIGURED = "not_configured"
    """The package is not set up for this app (router not included, or lifespan not run)."""
    DATABASE_UNAVAILABLE = "database_unavailable"
    """The app's database cannot be reached or stays locked; retry after ``Retry-After`` seconds."""


class KavachError(Exception):
    """Root of every failure the package raises.

    Attributes:
        code: the stable :class:`ErrorCode`.
        status_code: the HTTP status that fits the failure.
        message: a sentence safe to show to a person.
    """

    code: ErrorCode = ErrorCode.INVALID_REQUEST
    status_code: int = 400
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: ErrorCode | None = None) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        super().__init__(self.message)


class ConfigurationError(KavachError):
    """The package is not set up right: settings missing or invalid, or the router not included.

    Raised at start-up for settings; during a request only for set-up mistakes that start-up
    cannot see (a dependency used in an app without the router, a schema that is behind).
    """

    code = ErrorCode.NOT_CONFIGURED
    status_code = 500
    default_message = "kavach-fastapi is not configured."


class NotSignedInError(KavachError):
    """The request carries no valid session."""

    code = ErrorCode.NOT_SIGNED_IN
    status_code = 401
    default_message = "Sign in to continue."


class SignInError(KavachError):
    """A sign-in attempt could not finish. Nothing was written and no session was made."""

    code = ErrorCode.INVALID_REQUEST
    status_code = 400
    default_message = "Sign-in could not be completed."
    redirect_to: str | None = None
    """Where the person should land to read the error, once the attempt is known."""


class InvalidStateError(SignInError):
    """The callback does not match a pending sign-in started in this browser."""

    code = ErrorCode.INVALID_STATE
    default_message = "This sign-in link is not valid any more. Please sign in again."


class ProviderDeniedError(SignInError):
    """The provider sent the person back with ``error=`` instead of a code."""

    code = ErrorCode.PROVIDER_ERROR
    status_code = 400
    default_message = "The provider did not grant access."


class ProviderError(SignInError):
    """The provider's token or profile endpoint failed: timeout, 4xx, 5xx or malformed JSON."""

    code = ErrorCode.TOKEN_EXCHANGE_FAILED
    status_code = 502
    default_message = "The provider could not complete the sign-in. Please try again."


class AccountDisabledError(SignInError):
    """The provider account is closed or inactive, so it cannot sign in."""

    code = ErrorCode.ACCOUNT_DISABLED
    status_code = 403
    default_message = "This account is closed or inactive and cannot sign in."


class ReauthRequiredError(KavachError):
    """The provider grant is gone (revoked, expired or reused): the person must consent again.

    The person stays signed in to the app. Attributes:
        reauth_url: where to send the browser to consent again, when known.
    """

    code = ErrorCode.REAUTH_REQUIRED
    status_code = 401
    default_message = "Your Atlassian connection has expired. Please connect again."

    def __init__(self, message: str | None = None, *, reauth_url: str | None = None) -> None:
        super().__init__(message)
        self.reauth_url = reauth_url


class RetryLaterError(KavachError):
    """A failure that passes with time; answered with a ``Retry-After`` header.

    Attributes:
        retry_after: seconds after which a retry may work.
    """

    code = ErrorCode.PROVIDER_UNAVAILABLE
    status_code = 503
    default_message = "Please try again shortly."
    default_retry_after = 5

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = self.default_retry_after if retry_after is None else retry_after


class ProviderUnavailableError(RetryLaterError):
    """The provider timed out, failed or is rate-limiting, even after retries."""

    default_message = "Atlassian is not answering right now. Please try again shortly."


class UnknownSiteError(KavachError):
    """The cloud id is not one of the signed-in person's sites."""

    code = ErrorCode.UNKNOWN_SITE
    status_code = 404
    default_message = "That Atlassian site is not one you have granted access to."


class InvalidAPIPathError(KavachError, ValueError):
    """A product API path, or a value for it, could be read in more than one way: nothing was sent.

    :class:`~kavach_fastapi.AtlassianClient` refuses a path with ``?``, ``#``, a percent-escape,
    a backslash, a control or non-ASCII character, or a ``.``, ``..`` or empty segment (``//``
    or a ``/`` at the end), and a ``path_params`` value that would make such a segment. Put
    values into ``path_params=`` (each is percent-encoded within its own segment) and queries
    into ``params=``. It is a ``ValueError`` too; the app answers it as 400 ``invalid_request``.
    """

    code = ErrorCode.INVALID_REQUEST
    status_code = 400
    default_message = "That is not a valid Atlassian API path."


class RateLimitedError(RetryLaterError):
    """Too many sign-in starts and callbacks from one client address (``KAVACH_RATE_LIMIT``)."""

    code = ErrorCode.RATE_LIMITED
    status_code = 429
    default_message = "Too many sign-in attempts. Please wait a moment and try again."
    default_retry_after = 60


class SignInBusyError(RetryLaterError):
    """As many sign-ins as ``KAVACH_MAX_PENDING_SIGN_INS`` allows are pending, none expired.

    Nobody's pending sign-in is dropped to make room; ``retry_after`` says when the first of
    them expires.
    """

    code = ErrorCode.SIGN_IN_BUSY
    status_code = 503
    default_message = "Too many people are signing in right now. Please try again shortly."


class DatabaseUnavailableError(RetryLaterError):
    """The database cannot be reached or used right now: stopped, restarting, or locked.

    Whatever needs the database answers 503 with ``Retry-After`` until it is back; sessions a
    process checked shortly before keep working meanwhile.
    """

    code = ErrorCode.DATABASE_UNAVAILABLE
    status_code = 503
    default_message = "The app cannot reach its database right now. Please try again shortly."
    default_retry_after = 5


class CrossSiteRequestError(KavachError):
    """A state-changing request came from another site."""

    code = ErrorCode.CROSS_SITE_REQUEST
    status_code = 403
    default_message = "Cross-site requests are not allowed here."


class UnknownProviderError(KavachError):
    """No configured provider has the requested id."""

    code = ErrorCode.UNKNOWN_PROVIDER
    status_code = 404
    default_message = "No such sign-in provider."
