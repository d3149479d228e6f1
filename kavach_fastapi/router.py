"""``kavach_router()``: the endpoints, thin, over the sign-in and session services."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Annotated, Any

import httpx2
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask

from .atlassian.client import offering_reauth
from .core import Kavach
from .errors import CrossSiteRequestError, ErrorCode, KavachError, NotSignedInError, SignInError
from .models import (
    AtlassianSite,
    Disconnected,
    ErrorBody,
    LinkedAccount,
    ProviderInfo,
    SessionInfo,
    SessionView,
    SignedOut,
)
from .providers.base import OAuthProvider
from .redirects import FALLBACK, safe_redirect, with_error
from .sessions import ActiveSession
from .settings import KavachSettings, load_settings
from .signin import ATTEMPT_LIFETIME, check_storable
from .web import (
    BINDING_COOKIE,
    PRIVATE_HEADERS,
    SESSION_COOKIE,
    CookiePolicy,
    client_address,
    cookie_policy,
    error_response,
    is_cross_site,
    mount_url,
    reauth_url,
    session_token,
    wants_json,
)

ATLASSIAN_REVOKE_URL = "https://id.atlassian.com/manage-profile/apps"
"""Where people revoke an app's access to their Atlassian account."""

AUTHORIZE_PATH = "/auth/oauth/authorize/{provider}"
CALLBACK_PATH = "/auth/oauth/callback/{provider}"


def _errors(*codes: ErrorCode, status: int) -> dict[int | str, dict[str, Any]]:
    listed = ", ".join(f"`{code.value}`" for code in codes)
    return {status: {"model": ErrorBody, "description": f"Error codes: {listed}."}}


_NOT_SIGNED_IN = _errors(ErrorCode.NOT_SIGNED_IN, status=401)


class KavachRoute(APIRoute):
    """Turns :class:`KavachError` from the endpoint or its dependencies into the JSON error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                _refuse_repeated_parameters(request)
                return await handler(request)
            except KavachError as exc:
                return error_response(exc)

        return handle


def _refuse_repeated_parameters(request: Request) -> None:
    """A parameter given twice is ambiguous (which ``state``? which ``redirect_to``?): refuse."""
    names = [name for name, _ in request.query_params.multi_items()]
    if len(names) != len(set(names)):
        raise KavachError(
            "A query parameter was given more than once.", code=ErrorCode.INVALID_REQUEST
        )


class KavachRouter(APIRouter):
    """The router returned by :func:`kavach_router`; ``.kavach`` holds its runtime."""

    kavach: Kavach


def kavach_router(
    providers: Sequence[OAuthProvider],
    *,
    database_url: str | None = None,
    secret: str | None = None,
    base_url: str | None = None,
    trusted_origins: Sequence[str] | None = None,
    csrf_trusted_origins: Sequence[str] | None = None,
    rate_limit: int | None = None,
    max_pending_sign_ins: int | None = None,
    session_lifetime: timedelta | None = None,
    session_idle_timeout: timedelta | None = None,
    session_cache_seconds: float | None = None,
    http_timeout: float | None = None,
    token_refresh_leeway: timedelta | None = None,
    sites_cache_ttl: timedelta | None = None,
    auto_migrate: bool | None = None,
    sqlite_busy_timeout: float | None = None,
    http_transport: httpx2.AsyncBaseTransport | None = None,
) -> KavachRouter:
    """Build the sign-in router. Include it once: ``app.include_router(router, prefix=...)``.

    Every option falls back to its ``KAVACH_*`` environment variable (see the configuration
    reference); options given here win.

    Args:
        providers: the sign-in providers, e.g. ``[atlassian_provider()]``.
        database_url: ``KAVACH_DATABASE_URL``.
        secret: ``KAVACH_SECRET`` (comma-separated keys, newest first).
        base_url: ``KAVACH_BASE_URL``, the public URL of the mount point.
        trusted_origins: ``KAVACH_TRUSTED_ORIGINS``, where ``redirect_to`` may point besides here.
        csrf_trusted_origins: ``KAVACH_CSRF_TRUSTED_ORIGINS``, origins besides this site whose
            pages may sign out and disconnect.
        rate_limit: ``KAVACH_RATE_LIMIT``.
        max_pending_sign_ins: ``KAVACH_MAX_PENDING_SIGN_INS``, sign-ins pending at once in all.
        session_lifetime: ``KAVACH_SESSION_LIFETIME``.
        session_idle_timeout: ``KAVACH_SESSION_IDLE_TIMEOUT``.
        session_cache_seconds: ``KAVACH_SESSION_CACHE_SECONDS``, how long a process trusts a
            session it checked (bounds how late other processes notice a sign-out).
        http_timeout: ``KAVACH_HTTP_TIMEOUT``, seconds each call to a provider may take in all.
        token_refresh_leeway: ``KAVACH_TOKEN_REFRESH_LEEWAY``, refresh this long before expiry.
        sites_cache_ttl: ``KAVACH_SITES_CACHE_TTL``, how long a list of sites is served cached.
        auto_migrate: ``KAVACH_AUTO_MIGRATE``, upgrade the schema at start-up (default: SQLite
            only).
        sqlite_busy_timeout: ``KAVACH_SQLITE_BUSY_TIMEOUT``, seconds a SQLite write waits for
            another writer's lock before answering 503.
        http_transport: an ``httpx2`` transport for provider calls (tests: the emulator).

    Raises:
        ConfigurationError: a setting is missing or invalid; the message names it and the fix.
    """
    settings = load_settings(
        KavachSettings,
        database_url=database_url,
        secret=secret,
        base_url=base_url,
        trusted_origins=",".join(trusted_origins) if trusted_origins is not None else None,
        csrf_trusted_origins=(
            ",".join(csrf_trusted_origins) if csrf_trusted_origins is not None else None
        ),
        rate_limit=rate_limit,
        max_pending_sign_ins=max_pending_sign_ins,
        session_lifetime=session_lifetime,
        session_idle_timeout=session_idle_timeout,
        session_cache_seconds=session_cache_seconds,
        http_timeout=http_timeout,
        token_refresh_leeway=token_refresh_leeway,
        sites_cache_ttl=sites_cache_ttl,
        auto_migrate=auto_migrate,
        sqlite_busy_timeout=sqlite_busy_timeout,
    )
    kavach = Kavach(providers, settings, http_transport=http_transport)
    router = KavachRouter(
        lifespan=kavach.lifespan,
        route_class=KavachRoute,
        tags=["auth"],
        responses={
            **_errors(ErrorCode.INVALID_REQUEST, status=400),
            **_errors(ErrorCode.DATABASE_UNAVAILABLE, status=503),
        },
    )
    router.kavach = kavach
    _add_routes(router, kavach)
    return router


def _add_routes(router: APIRouter, kavach: Kavach) -> None:  # noqa: PLR0915 - one closure per endpoint
    settings = kavach.settings

    def policy(request: Request) -> CookiePolicy:
        return cookie_policy(request, settings.base_url)

    async def session_of(request: Request) -> ActiveSession | None:
        await kavach.ensure_started()
        return await kavach.sessions.authenticate(session_token(request, policy(request)))

    async def signed_in(request: Request) -> ActiveSession:
        found = await session_of(request)
        if found is None:
            raise NotSignedInError
        return found

    def refuse_cross_site(request: Request, route_path: str, what: str) -> None:
        base = mount_url(request, route_path, settings.base_url)
        if is_cross_site(request, base, settings.csrf_trusted_origins):
            raise CrossSiteRequestError(f"{what} must come from this site.")

    @router.get(
        AUTHORIZE_PATH,
        name="kavach_authorize",
        status_code=302,
        response_class=RedirectResponse,
        summary="Start signing in",
        responses={
            **_errors(ErrorCode.UNKNOWN_PROVIDER, status=404),
            **_errors(ErrorCode.RATE_LIMITED, status=429),
            **_errors(ErrorCode.SIGN_IN_BUSY, status=503),
        },
    )
    async def authorize(
        request: Request,
        provider: str,
        redirect_to: Annotated[
            str | None,
            Query(description="Where to land afterwards: a path here or a trusted origin."),
        ] = None,
    ) -> Response:
        """Send the browser to the provider's consent page (302).

        Starts a sign-in attempt bound to this browser by a short-lived HttpOnly cookie.
        """
        await kavach.ensure_started()
        client = kavach.sign_in.client(provider)  # an unknown provider is refused uncounted
        base = mount_url(request, AUTHORIZE_PATH.format(provider=provider), settings.base_url)
        redirect_uri = f"{base}{CALLBACK_PATH.format(provider=provider)}"
        target = safe_redirect(redirect_to, own_origin=base, trusted=settings.trusted_origins)
        # Before the rate limiter counts it: a refused request writes nothing.
        check_storable(redirect_uri=redirect_uri, redirect_to=target)
        await kavach.rate_limiter.hit(client_address(request))
        cookies = policy(request)
        start = await kavach.sign_in.start(
            client.provider.id,
            redirect_uri=redirect_uri,
            redirect_to=target,
            browser_binding=request.cookies.get(cookies.name(BINDING_COOKIE)),
        )
        response = RedirectResponse(
            start.authorization_url,
            status_code=302,
            headers=PRIVATE_HEADERS,
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
        responses={
            **_errors(
                ErrorCode.INVALID_STATE,
                ErrorCode.SIGN_IN_EXPIRED,
                ErrorCode.BROWSER_MISMATCH,
                ErrorCode.ACCESS_DENIED,
                ErrorCode.INVALID_SCOPE,
                ErrorCode.PROVIDER_ERROR,
                ErrorCode.ISSUER_MISMATCH,
                ErrorCode.INVALID_REQUEST,
                status=400,
            ),
            **_errors(ErrorCode.ACCOUNT_DISABLED, status=403),
            **_errors(ErrorCode.UNKNOWN_PROVIDER, status=404),
            **_errors(ErrorCode.RATE_LIMITED, status=429),
            **_errors(
                ErrorCode.TOKEN_EXCHANGE_FAILED,
                ErrorCode.PROFILE_FETCH_FAILED,
                ErrorCode.PROVIDER_UNAVAILABLE,
                status=502,
            ),
        },
    )
    async def callback(
        request: Request,
        provider: Annotated[str, Path(description="The provider id, e.g. `atlassian`.")],
        state: Annotated[
            str | None, Query(description="The sign-in attempt, as sent to the provider.")
        ] = None,
        code: Annotated[
            str | None, Query(description="The one-time authorization code from the provider.")
        ] = None,
        error: Annotated[
            str | None, Query(description="The provider's error, e.g. `access_denied`.")
        ] = None,
        iss: Annotated[
            str | None, Query(description="The issuer, when the provider names itself (RFC 9207).")
        ] = None,
    ) -> Response:
        """The provider sends the browser here. Sets the session cookie and answers 303.

        On failure the browser lands on ``redirect_to?error=CODE`` (or gets the JSON error when
        it asked for JSON); nothing is stored and no session is made.
        """
        await kavach.ensure_started()
        kavach.sign_in.client(provider)  # an unknown provider is refused uncounted
        cookies = policy(request)
        binding = request.cookies.get(cookies.name(BINDING_COOKIE))
        await kavach.rate_limiter.hit_callback(
            client_address(request), provider=provider, state=state, browser_binding=binding
        )
        try:
            pending = await kavach.sign_in.take(provider, state=state, browser_binding=binding)
        except SignInError as exc:
            return _sign_in_failed(request, exc, FALLBACK)
        try:
            result = await kavach.sign_in.complete(pending, code=code, error=error, issuer=iss)
        except SignInError as exc:
            return _sign_in_failed(request, exc, pending.redirect_to)
        previous = await session_of(request)
        if previous is not None:
            await kavach.sessions.revoke(previous.token_hash)
        response = RedirectResponse(result.redirect_to, status_code=303, headers=PRIVATE_HEADERS)
        cookies.set(
            response,
            SESSION_COOKIE,
            result.session_token,
            max_age=int(kavach.sessions.lifetime.total_seconds()),
        )
        return response

    @router.get(
        "/auth/session",
        response_model=SessionView,
        summary="The current session",
        responses=_NOT_SIGNED_IN,
    )
    async def get_session(request: Request, response: Response) -> SessionView:
        """The signed-in user and when the session expires; 401 when nobody is signed in."""
        found = await signed_in(request)
        response.headers.update(PRIVATE_HEADERS)
        return SessionView(user=found.user, session=SessionInfo(expires_at=found.expires_at))

    @router.post(
        "/auth/sign-out",
        response_model=SignedOut,
        summary="Sign out",
        responses={
            303: {"description": "Signed out; sent on to `redirect_to` when it was given."},
            **_errors(ErrorCode.CROSS_SITE_REQUEST, status=403),
        },
    )
    async def sign_out(
        request: Request,
        redirect_to: Annotated[
            str | None, Query(description="Answer 303 to this place instead of JSON.")
        ] = None,
    ) -> Response:
        """End the session on the server and clear the cookie.

        Refused (403) when a browser sends it from another site.
        """
        refuse_cross_site(request, "/auth/sign-out", "Sign-out")
        found = await session_of(request)
        if found is not None:
            await kavach.sessions.revoke(found.token_hash)
        if redirect_to is not None:
            base = mount_url(request, "/auth/sign-out", settings.base_url)
            target = safe_redirect(redirect_to, own_origin=base, trusted=settings.trusted_origins)
            response: Response = RedirectResponse(target, status_code=303, headers=PRIVATE_HEADERS)
        else:
            response = JSONResponse(
                SignedOut(signed_out=True).model_dump(), headers=PRIVATE_HEADERS
            )
        policy(request).clear(response, SESSION_COOKIE)
        return response

    @router.get(
        "/auth/oauth/providers",
        response_model=list[ProviderInfo],
        summary="The configured providers",
    )
    async def list_providers() -> list[ProviderInfo]:
        """The providers people can sign in with."""
        return [ProviderInfo(id=p.id, name=p.name) for p in kavach.providers.values()]

    @router.get(
        "/auth/oauth/accounts",
        response_model=list[LinkedAccount],
        summary="The signed-in user's linked accounts",
        responses=_NOT_SIGNED_IN,
    )
    async def list_accounts(request: Request, response: Response) -> list[LinkedAccount]:
        """Provider accounts linked to the signed-in user. Never carries tokens."""
        found = await signed_in(request)
        response.headers.update(PRIVATE_HEADERS)
        return [
            LinkedAccount.from_row(row) for row in await kavach.store.accounts_of(found.user.id)
        ]

    @router.delete(
        "/auth/oauth/accounts/{provider}",
        response_model=Disconnected,
        summary="Disconnect a provider account",
        responses={
            **_NOT_SIGNED_IN,
            **_errors(ErrorCode.CROSS_SITE_REQUEST, status=403),
            **_errors(ErrorCode.UNKNOWN_PROVIDER, status=404),
        },
    )
    async def disconnect(request: Request, provider: str, response: Response) -> Disconnected:
        """Forget the provider's tokens and cached sites; the person stays signed in.

        Atlassian offers no endpoint to revoke a 3LO grant: the answer says so, with the page
        where the person can revoke the app themselves.
        """
        refuse_cross_site(request, f"/auth/oauth/accounts/{provider}", "Disconnecting")
        chosen = kavach.sign_in.client(provider).provider
        found = await signed_in(request)
        linked = await kavach.tokens.disconnect(found.user.id, chosen.id)
        response.headers.update(PRIVATE_HEADERS)
        return Disconnected(
            provider=chosen.id,
            disconnected=linked,
            revoked_at_provider=False,
            revoke_url=ATLASSIAN_REVOKE_URL if chosen.id == "atlassian" else None,
            message=(
                f"{chosen.name} tokens were deleted here. {chosen.name} offers apps no way to "
                "revoke access: to revoke it, remove the app from your connected apps at "
                f"{ATLASSIAN_REVOKE_URL}."
            ),
        )

    @router.get(
        "/auth/oauth/atlassian/sites",
        response_model=list[AtlassianSite],
        summary="The signed-in person's Atlassian sites",
        responses={
            **_errors(ErrorCode.NOT_SIGNED_IN, ErrorCode.REAUTH_REQUIRED, status=401),
            **_errors(ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.DATABASE_UNAVAILABLE, status=503),
        },
    )
    async def list_sites(request: Request, response: Response) -> list[AtlassianSite]:
        """The Atlassian sites the person granted, cached for ``KAVACH_SITES_CACHE_TTL``.

        The order means nothing, and the list may be empty.
        """
        found = await signed_in(request)
        async with offering_reauth(reauth_url(request, settings.base_url)):
            sites = await kavach.tokens.sites(found.user.id, kavach.atlassian())
        response.headers.update(PRIVATE_HEADERS)
        return sites


def _sign_in_failed(request: Request, exc: SignInError, landing: str) -> Response:
    """The JSON error for a client that asked for it; else back to ``landing`` with ``?error=``."""
    if wants_json(request):
        return _private(error_response(exc))
    target = with_error(landing, exc.code.value)
    return RedirectResponse(target, status_code=303, headers=PRIVATE_HEADERS)


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE_HEADERS)
    return response
