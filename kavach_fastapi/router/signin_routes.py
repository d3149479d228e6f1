"""Signing in: the start (to the provider's consent page) and the callback that finishes it."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict
from starlette.background import BackgroundTask

from ..codes import ErrorCode
from ..errors import DatabaseUnavailableError, KavachError, SignInError, SignInRefusedError
from ..extra_scopes import open_extra_scopes
from ..http.cookies import BINDING_COOKIE, SESSION_COOKIE
from ..http.errors import error_response, error_responses
from ..http.requests import client_address, client_device, mount_url, wants_json
from ..redirects import check_storable, safe_redirect, with_error
from ..runtime import Kavach
from ..signin import ATTEMPT_LIFETIME
from .common import MaybeSession, cookies_of

logger = logging.getLogger("kavach_fastapi")

AUTHORIZE_PATH = "/auth/oauth/authorize/{provider}"
CALLBACK_PATH = "/auth/oauth/callback/{provider}"

CALLBACK_ERRORS = (
    ErrorCode.INVALID_STATE,
    ErrorCode.SIGN_IN_EXPIRED,
    ErrorCode.BROWSER_MISMATCH,
    ErrorCode.ACCESS_DENIED,
    ErrorCode.INVALID_SCOPE,
    ErrorCode.PROVIDER_ERROR,
    ErrorCode.ISSUER_MISMATCH,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.ACCOUNT_DISABLED,
    ErrorCode.UNKNOWN_PROVIDER,
    ErrorCode.RATE_LIMITED,
    ErrorCode.TOKEN_EXCHANGE_FAILED,
    ErrorCode.PROFILE_FETCH_FAILED,
    ErrorCode.PROVIDER_UNAVAILABLE,
    ErrorCode.SITE_NOT_ALLOWED,
    ErrorCode.SIGN_IN_REFUSED,
    ErrorCode.SIGN_IN_FAILED,
    ErrorCode.DATABASE_UNAVAILABLE,
)
"""What the callback can answer, as JSON or as ``?error=`` on the landing page."""


class ProviderAnswer(BaseModel):
    """What the provider puts on the callback URL."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    state: str | None = None
    """The sign-in attempt, as sent to the provider."""
    code: str | None = None
    """The one-time authorization code from the provider."""
    error: str | None = None
    """The provider's error, e.g. `access_denied`."""
    iss: str | None = None
    """The issuer, when the provider names itself (RFC 9207)."""


def add_signin_routes(router: APIRouter, kavach: Kavach) -> None:
    """Add the two endpoints of a sign-in, closures over the app's ``kavach``."""
    settings = kavach.settings

    @router.get(
        AUTHORIZE_PATH,
        name="kavach_authorize",
        status_code=302,
        response_class=RedirectResponse,
        summary="Start signing in",
        responses=error_responses(
            ErrorCode.UNKNOWN_PROVIDER, ErrorCode.RATE_LIMITED, ErrorCode.SIGN_IN_BUSY
        ),
    )
    async def authorize(
        request: Request,
        provider: str,
        redirect_to: Annotated[
            str | None,
            Query(
                description="Where to land afterwards: a path here or a trusted origin. "
                "Without it (or when refused), `KAVACH_LANDING_URL` (`/` unless set)."
            ),
        ] = None,
        extra_scopes: Annotated[
            str | None,
            Query(
                description="More scopes to ask for, as sealed in a `reauth_url` of "
                "`require_atlassian_scopes`; any other value is refused.",
            ),
        ] = None,
    ) -> Response:
        """Send the browser to the provider's consent page (302).

        Starts a sign-in attempt bound to this browser by a short-lived HttpOnly cookie.
        """
        client = kavach.sign_in.client(provider)  # an unknown provider is refused uncounted
        extras = (
            open_extra_scopes(kavach.keyring, client.provider.id, extra_scopes)
            if extra_scopes
            else ()
        )
        base = mount_url(request, AUTHORIZE_PATH.format(provider=provider), settings.base_url)
        redirect_uri = f"{base}{CALLBACK_PATH.format(provider=provider)}"
        target = safe_redirect(
            redirect_to,
            own_origin=base,
            trusted=settings.trusted_origins,
            fallback=settings.landing_url,
        )
        # Before the rate limiter counts it: a refused request writes nothing.
        check_storable(redirect_uri=redirect_uri, redirect_to=target)
        await kavach.rate_limiter.hit(client_address(request))
        cookies = cookies_of(request, kavach)
        start = await kavach.sign_in.start(
            client.provider.id,
            redirect_uri=redirect_uri,
            redirect_to=target,
            browser_binding=request.cookies.get(cookies.name(BINDING_COOKIE)),
            extra_scopes=extras,
        )
        response = RedirectResponse(
            start.authorization_url,
            status_code=302,
            # After the answer is sent, so that no sign-in waits for it.
            background=BackgroundTask(kavach.housekeeper.sweep_if_due),
        )
        cookies.set(
            response,
            BINDING_COOKIE,
            start.browser_binding,
            max_age=int(ATTEMPT_LIFETIME.total_seconds()),
        )
        return response

    @router.get(
        CALLBACK_PATH,
        name="kavach_callback",
        status_code=303,
        response_class=RedirectResponse,
        summary="Finish signing in",
        responses=error_responses(*CALLBACK_ERRORS),
    )
    async def callback(
        request: Request,
        provider: Annotated[str, Path(description="The provider id, e.g. `atlassian`.")],
        previous: MaybeSession,
        answer: Annotated[ProviderAnswer, Query()],
    ) -> Response:
        """The provider sends the browser here. Sets the session cookie and answers 303.

        On failure the browser lands on ``redirect_to?error=CODE`` (or gets the JSON error when
        it asked for JSON); nothing is stored and no session is made.
        """
        kavach.sign_in.client(provider)  # an unknown provider is refused uncounted
        cookies = cookies_of(request, kavach)
        binding = request.cookies.get(cookies.name(BINDING_COOKIE))
        await kavach.rate_limiter.hit_callback(
            client_address(request), provider=provider, state=answer.state, browser_binding=binding
        )
        try:
            pending = await kavach.sign_in.take(
                provider, state=answer.state, browser_binding=binding
            )
        except SignInError as exc:
            return _failed(request, exc, settings.landing_url)
        try:
            result = await kavach.sign_in.complete(
                pending,
                code=answer.code,
                error=answer.error,
                issuer=answer.iss,
                device=client_device(request),
            )
        except KavachError as exc:
            # The attempt is used up: a reload can only say invalid_state, so whatever failed
            # (the database too) is told on the landing page, as the sign-in's own failures are.
            return _failed(request, exc, pending.redirect_to)
        if previous is not None:
            await _end_previous(kavach, previous.token_hash)
        response = RedirectResponse(result.redirect_to, status_code=303)
        cookies.set(
            response,
            SESSION_COOKIE,
            result.session_token,
            max_age=int(kavach.sessions.lifetime.total_seconds()),
        )
        return response


async def _end_previous(kavach: Kavach, token_hash: str) -> None:
    """End the session the browser had before it signed in again, if the database lets us.

    The sign-in is made by then and the browser's cookie is replaced by the new session's, so
    an outage here must not turn the sign-in into an error: the old session is left to its own
    expiry and idle timeout, and the log says so.
    """
    try:
        await kavach.sessions.revoke(token_hash)
    except DatabaseUnavailableError:
        logger.warning(
            "kavach: the database was unavailable as a browser signed in again; its previous "
            "session was left to end at its own expiry"
        )


def _failed(request: Request, exc: KavachError, landing: str) -> Response:
    """The JSON error for a client that asked for it; else back to ``landing`` with ``?error=``."""
    if wants_json(request):
        return error_response(exc)
    reason = exc.reason if isinstance(exc, SignInRefusedError) else None
    return RedirectResponse(with_error(landing, exc.code.value, reason), status_code=303)
