"""The error codes: one table of what the package says about each failure.

Each [`ErrorCode`][kavach_fastapi.ErrorCode] carries, in one place, its HTTP status, what it means, the message a
person sees, what to do about it, and (for failures that pass with time) the ``Retry-After`` to
suggest. The answers, the router's OpenAPI ``responses=`` and the errors page of the
documentation all read this table; the exceptions of `kavach_fastapi.errors` name a code.
Codes are stable: they appear on the wire, in ``{"error": {"code": ...}}`` and ``?error=``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple


class _Row(NamedTuple):
    value: str
    status: int
    meaning: str
    message: str
    advice: str
    retry_after: int | None = None


class ErrorCode(str, Enum):
    """The codes that appear in error answers and in ``?error=`` on landing URLs.

    Attributes:
        status: the HTTP status of every answer with this code.
        meaning: what happened, for developers.
        message: the default sentence shown to the person.
        advice: what to do about it (the errors page shows it).
        retry_after: for failures that pass with time, the seconds to suggest waiting.
    """

    _value_: str
    status: int
    meaning: str
    message: str
    advice: str
    retry_after: int | None

    def __new__(cls, value: str, *details: Any) -> ErrorCode:
        # Members are written as rows of the table; ``ErrorCode("not_signed_in")`` looks one
        # up by its value, as for any enum (and so type-checks with the value alone).
        row = _Row(value, *details)
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = row.status
        member.meaning = row.meaning
        member.message = row.message
        member.advice = row.advice
        member.retry_after = row.retry_after
        return member

    NOT_SIGNED_IN = _Row(
        "not_signed_in",
        401,
        "Nobody is signed in: no session cookie or bearer token, or it expired or was revoked.",
        "Sign in to continue.",
        "Send the person to sign in: link to `<prefix>/auth/oauth/authorize/atlassian"
        "?redirect_to=<this page>`. An API client must send the session cookie or "
        "`Authorization: Bearer <session token>`.",
    )
    INVALID_REQUEST = _Row(
        "invalid_request",
        400,
        "A query parameter is missing, duplicated or malformed, or the request's address "
        "(`Host`) is too long to keep.",
        "The request could not be completed.",
        "The callback arrived without a `code`, or a parameter is malformed. Offer to sign in "
        "again; if it keeps happening, check that no proxy or link scanner rewrites the callback "
        "URL. A sign-in start whose address (`Host` and mount path) makes a callback URL over "
        "2048 characters is refused too: set `KAVACH_BASE_URL`.",
    )
    INVALID_STATE = _Row(
        "invalid_state",
        400,
        "The callback's `state` names no pending sign-in: it was already used or never existed.",
        "This sign-in link is not valid any more. Please sign in again.",
        "The sign-in link was used twice (a reload of the callback, a second tab) or never "
        "existed. Nothing to fix: offer a *Sign in* button.",
    )
    SIGN_IN_EXPIRED = _Row(
        "sign_in_expired",
        400,
        "The sign-in attempt is older than 10 minutes; start again.",
        "The sign-in took too long. Please sign in again.",
        "More than ten minutes passed between starting and finishing. Offer to sign in again.",
    )
    BROWSER_MISMATCH = _Row(
        "browser_mismatch",
        400,
        "The callback was opened in a browser other than the one that started the sign-in.",
        "This sign-in was started in another browser. Please sign in again here.",
        "The callback opened in another browser or profile than the one that started the "
        "sign-in (a copied link, or cookies blocked for your site). Ask the person to sign in "
        "again from one browser, with cookies allowed.",
    )
    ACCESS_DENIED = _Row(
        "access_denied",
        400,
        "The person declined the consent screen.",
        "You declined to share your account, so you are not signed in.",
        "The person pressed *Decline* on Atlassian's consent page. Say that signing in needs "
        "their consent and offer to try again.",
    )
    INVALID_SCOPE = _Row(
        "invalid_scope",
        400,
        "The provider granted fewer scopes than requested, or answered the callback with "
        "`error=invalid_scope`.",
        "The provider refused a requested permission (scope).",
        "Atlassian's token answer lacked a scope of `ATLASSIAN_SCOPES` (nothing was stored). "
        "Enable every requested scope for your app in the developer console (see [Atlassian "
        "setup](atlassian-setup.md#choose-the-scopes)). A scope that is not enabled at all "
        "never gets here: Atlassian stops on its own error page; `kavach check` warns about "
        "misspelt ones beforehand.",
    )
    PROVIDER_ERROR = _Row(
        "provider_error",
        400,
        "The provider reported another error on the callback.",
        "The provider did not grant access.",
        "Atlassian answered the callback with another `error=`. Check the app in the developer "
        "console (is it [shared](atlassian-setup.md#let-other-people-sign-in)?) and try again.",
    )
    ISSUER_MISMATCH = _Row(
        "issuer_mismatch",
        400,
        "The callback names an issuer other than the configured provider.",
        "The sign-in answer came from an unexpected issuer.",
        "The callback names an issuer other than `ATLASSIAN_AUTH_URL`: a forged or mixed-up "
        "callback. Check `ATLASSIAN_AUTH_URL`; otherwise nothing was signed in and nothing is "
        "needed.",
    )
    TOKEN_EXCHANGE_FAILED = _Row(
        "token_exchange_failed",
        502,
        "The provider did not exchange the authorization code for tokens.",
        "The provider could not complete the sign-in. Please try again.",
        "Atlassian refused to exchange the code, most often for a wrong "
        "`ATLASSIAN_CLIENT_SECRET`. Compare the credentials with the developer console and run "
        "[`kavach check`](atlassian-setup.md#register-the-callback-url).",
    )
    PROFILE_FETCH_FAILED = _Row(
        "profile_fetch_failed",
        502,
        "The provider did not return the person's profile.",
        "The provider did not return your profile. Please try again.",
        "`/me` failed or had no `account_id`. Make sure the app has the *User identity API* "
        "(`read:me`) in the developer console, then try again.",
    )
    PROVIDER_UNAVAILABLE = _Row(
        "provider_unavailable",
        503,
        "The provider timed out, could not be reached or is rate-limiting, even after retries.",
        "Atlassian is not answering right now. Please try again shortly.",
        "Atlassian timed out, failed or is rate-limiting, even after retries. Try again after "
        "the `Retry-After` seconds; show the person a *try again shortly* message.",
        5,
    )
    QUOTA_EXHAUSTED = _Row(
        "quota_exhausted",
        503,
        "Atlassian refused calls to this site (or to every site of the app) for longer than "
        "the retries wait: its request quota is used up until `Retry-After` has passed.",
        "Atlassian's request quota for this site is used up. Please try again later.",
        "Atlassian answered `429` with a long `Retry-After`, or said the app's quota is "
        "exhausted. Every worker now answers this at once for that site, without calling "
        "Atlassian, until the time has passed (see [Atlassian's rules](atlassian-rules.md#quotas)). "
        "Show a *try again later* message; if it happens often, make fewer or cheaper calls.",
        60,
    )
    ACCOUNT_DISABLED = _Row(
        "account_disabled",
        403,
        "The provider account is closed or inactive.",
        "This account is closed or inactive and cannot sign in.",
        "The Atlassian account is closed or deactivated and may not sign in. Only the person's "
        "Atlassian organisation can change that.",
    )
    SITE_NOT_ALLOWED = _Row(
        "site_not_allowed",
        403,
        "`KAVACH_ALLOWED_SITES` is set and the person's grant reaches none of those sites.",
        "This app is only for people of its Atlassian site. Your account cannot reach it.",
        "The person can sign in to Atlassian but reaches none of the sites in "
        "`KAVACH_ALLOWED_SITES` (or did not tick one on the consent page). Tell them which site "
        "the app is for and offer to sign in again; nothing was stored (see [Sign-in "
        "policy](sign-in-policy.md)).",
    )
    SIGN_IN_REFUSED = _Row(
        "sign_in_refused",
        403,
        "The app's `before_sign_in` hook refused the sign-in; `reason=` on the landing URL says "
        "why, in the app's own words.",
        "You may not sign in to this app.",
        "Your `before_sign_in` hook returned `Refuse(reason)`; the landing URL carries "
        "`error=sign_in_refused&reason=<reason>`. Nothing was stored (see [Hooks](sign-in-hooks.md)).",
    )
    SIGN_IN_FAILED = _Row(
        "sign_in_failed",
        503,
        "One of the app's sign-in hooks raised an exception; the sign-in was undone.",
        "The sign-in could not be completed. Please try again shortly.",
        "A `before_sign_in`, `user_created` or `signed_in` hook raised. The log names the hook "
        "and the exception; the sign-in wrote nothing that stays, unless the database failed every "
        "try of its undo, which the log says too (see [Hooks](sign-in-hooks.md)). "
        "Fix the hook, or retry after `Retry-After` seconds if what it calls was down.",
        5,
    )
    CROSS_SITE_REQUEST = _Row(
        "cross_site_request",
        403,
        "A state-changing request came from another site and was refused.",
        "Cross-site requests are not allowed here.",
        "A browser sent the request from another site. Send it from your own pages; if a front "
        "end of yours on another origin must sign people out, add that origin to "
        "`KAVACH_CSRF_TRUSTED_ORIGINS` (`KAVACH_TRUSTED_ORIGINS` only says where `redirect_to` "
        "may point, and never allows this).",
    )
    UNKNOWN_PROVIDER = _Row(
        "unknown_provider",
        404,
        "No configured provider has this id.",
        "No such sign-in provider.",
        "The URL names a provider that is not configured. Use `atlassian`; "
        "`GET /auth/oauth/providers` lists the configured ones.",
    )
    UNKNOWN_SESSION = _Row(
        "unknown_session",
        404,
        "No session of the signed-in person has this id: it never existed, already ended, or "
        "belongs to someone else (which is never told apart).",
        "That session is not one of yours, or it has already ended.",
        "List the person's sessions with `GET /auth/sessions` and use an `id` from there; a "
        "session that ended (signed out, expired, idle) leaves the list.",
    )
    REAUTH_REQUIRED = _Row(
        "reauth_required",
        401,
        "The provider grant was revoked or expired: send the person to `reauth_url` to consent "
        "again.",
        "Your Atlassian connection has expired. Please connect again.",
        "The Atlassian grant is gone (revoked, unused for 90 days, a year old, or its refresh "
        "token was reused too late). Retrying never helps: send the browser to `reauth_url` so "
        "the person consents again (see [Tokens and refresh](tokens.md#reauth_required)).",
    )
    REFRESH_REFUSED = _Row(
        "refresh_refused",
        502,
        "The provider refused to refresh the tokens for another reason than a dead grant "
        "(most often the app's client id or secret is not the one it knows).",
        "Atlassian refused to renew the connection. Please try again later.",
        "Atlassian answered the token refresh with an error other than `invalid_grant`, most "
        "often `401 access_denied` after `ATLASSIAN_CLIENT_SECRET` was rotated in the developer "
        "console. The grant is not marked dead and the stored tokens are kept: put the "
        "console's credentials in the settings (see [Atlassian setup](atlassian-setup.md)) and "
        "the next refresh works. The log names Atlassian's `error=`.",
    )
    NO_USABLE_GRANT = _Row(
        "no_usable_grant",
        409,
        "No stored Atlassian grant can authorise a call the app makes as itself (personal-data "
        "reporting).",
        "No stored Atlassian grant can call Atlassian for the app right now.",
        "Atlassian's personal-data reporting is called with a bearer token, and the package uses "
        "one of the stored grants (see [Atlassian's rules](atlassian-rules.md#personal-data)). "
        "None was usable: nobody signed in yet, every grant needs consent again, or the grant of "
        "`--as-user` is gone. Sign in once (with `offline_access`, so the grant lasts), or name "
        "a user whose grant is alive.",
    )
    UNKNOWN_SITE = _Row(
        "unknown_site",
        404,
        "The cloud id is not one of the signed-in person's Atlassian sites.",
        "That Atlassian site is not one you have granted access to.",
        "The cloud id is not one of the sites the person granted. List their sites with "
        "`AtlassianSites` and let them choose, or have them consent again and tick the site.",
    )
    RATE_LIMITED = _Row(
        "rate_limited",
        429,
        "Too many sign-in requests from this address; retry after `Retry-After` seconds.",
        "Too many sign-in attempts. Please wait a moment and try again.",
        "Too many sign-in starts and callbacks from one address this minute: wait "
        "`Retry-After` seconds. Behind a proxy, make sure the server sees real client addresses "
        "([`--forwarded-allow-ips`](deployment.md#behind-a-proxy)); raise `KAVACH_RATE_LIMIT` "
        "if needed.",
        60,
    )
    SIGN_IN_BUSY = _Row(
        "sign_in_busy",
        503,
        "`KAVACH_MAX_PENDING_SIGN_INS` sign-ins are pending on the app; retry after "
        "`Retry-After` seconds.",
        "Too many people are signing in right now. Please try again shortly.",
        "As many sign-ins as `KAVACH_MAX_PENDING_SIGN_INS` allows are waiting for their callback "
        "(a flood of sign-in starts, most likely). Nobody's pending sign-in was dropped: retry "
        "after `Retry-After` seconds. Raise the setting if your real traffic needs more.",
        5,
    )
    NOT_CONFIGURED = _Row(
        "not_configured",
        500,
        "The package is not set up for this app (router not included, or lifespan not run).",
        "kavach-fastapi is not configured.",
        "A set-up problem, named in the message: a missing or invalid setting, a database "
        "schema that needs `kavach db upgrade`, or an app that never included `kavach_router()` "
        "or did not run its lifespan (in tests, use `with TestClient(app)`).",
    )
    DATABASE_UNAVAILABLE = _Row(
        "database_unavailable",
        503,
        "The app's database cannot be reached or stays locked; retry after `Retry-After` seconds.",
        "The app cannot reach its database right now. Please try again shortly.",
        "The app's database cannot be reached (stopped, restarting, out of connections) or a "
        "SQLite file stays locked longer than `KAVACH_SQLITE_BUSY_TIMEOUT`. Retry after "
        "`Retry-After` seconds; the app recovers by itself when the database is back (see "
        "[Deployment](deployment.md#database-outages)).",
        5,
    )
