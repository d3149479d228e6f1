"""One app's kavach: its settings, providers, database and services, started by the lifespan.

[`kavach_router()`][kavach_fastapi.kavach_router] builds one `Kavach` per router. Nothing
is global: two apps in one process, each with its own router and database, never see each
other. The router's lifespan is the only way it starts (schema check, HTTP pool): it registers
it on ``app.state``, where every dependency, the router's endpoints' included, finds it; one
used in an app whose lifespan did not run raises ``ConfigurationError`` naming the fix.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager

import httpx2
from fastapi import FastAPI, Request, Response
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp

from .admission import Admission, SiteLister
from .atlassian.client import ProviderCalls
from .atlassian.sites import SitesCache, sites_of_token
from .codes import ErrorCode
from .crypto import Keyring
from .errors import ConfigurationError, KavachError
from .grants import IdleGrants
from .hooks import NO_HOOKS, KavachHooks
from .housekeeping import Housekeeper
from .http.errors import error_response
from .http.requests import authorize_url, reauth_url
from .http.security import declare_answers
from .keyfile import resolve_secret_keys
from .keys import KeyRotation
from .models import AtlassianSite
from .oauth import OAuthClient, SharedTransport
from .options import KavachOptions, Unpack, hooks_of, load_options
from .privacy import PersonalDataReporter
from .providers.atlassian import AtlassianProvider
from .providers.base import OAuthProvider
from .quota import QuotaGuard
from .ratelimit import RateLimiter
from .sessions import SessionManager
from .settings import KavachSettings
from .signin import SignInService
from .store import Store
from .token_refresh import Refresher
from .tokens import TokenService
from .uncaught import said_in_one_line_by_the_server

logger = logging.getLogger("kavach_fastapi")

STATE_KEY = "kavach"
"""The attribute of ``app.state`` that holds the app's `Kavach`."""

_RUNNING: dict[object, Kavach] = {}
"""The same as ``app.state.kavach``, for `running_in`: every request behind a session asks,
and Starlette's ``State`` answers an attribute through ``__getattr__`` (about 0.4 us a time,
a dictionary 0.05 us). `Kavach.attach` and `Kavach.detach` keep both."""


def running_in(app: object) -> Kavach | None:
    """The `Kavach` attached to this app by its lifespan, if one is."""
    return _RUNNING.get(app)


class Kavach:
    """Everything one app's sign-in needs.

    Args:
        providers: the sign-in providers, each with a distinct id.
        settings: the ``KAVACH_*`` settings.
        http_transport: the transport for calls to providers; a pooled HTTP transport when
            ``None``. Tests pass the emulator's ASGI transport or an ``httpx2.MockTransport``.
        hooks: the app's hooks (the ``hooks=`` option, see `kavach_fastapi.options.hooks_of`).
    """

    def __init__(
        self,
        providers: Sequence[OAuthProvider],
        settings: KavachSettings,
        *,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        hooks: KavachHooks = NO_HOOKS,
    ) -> None:
        if not providers:
            raise ConfigurationError(
                "kavach_router() needs at least one provider, e.g. providers=[atlassian_provider()]."
            )
        ids = [provider.id for provider in providers]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(f"Provider ids must be distinct, got {ids}.")
        self.settings = settings
        self.hooks = hooks
        self.providers = {provider.id: provider for provider in providers}
        self.keyring = Keyring(resolve_secret_keys(settings))
        self.store = Store.from_settings(settings)
        self.sessions = SessionManager(
            self.store.sessions,
            lifetime=settings.session_lifetime,
            idle_timeout=settings.session_idle_timeout,
            cache_seconds=settings.session_cache_seconds,
            feed=self.store.feed,
        )
        self._owns_transport = http_transport is None
        self.http = SharedTransport(http_transport or self._new_transport())
        clients = {
            provider.id: OAuthClient(provider, transport=self.http, timeout=settings.http_timeout)
            for provider in providers
        }
        self.sign_in = SignInService(
            self.store.attempts,
            self.store.signins,
            self.keyring,
            self.sessions,
            clients,
            max_pending=settings.max_pending_sign_ins,
            admission=Admission(hooks, settings.allowed_sites, _site_listers(clients)),
            hooks=hooks,
        )
        self.housekeeper = Housekeeper(self.store, idle_timeout=settings.session_idle_timeout)
        self.rate_limiter = RateLimiter(
            self.store.counters, self.store.attempts, per_minute=settings.rate_limit
        )
        refresher = Refresher(
            self.store.accounts,
            self.keyring,
            clients,
            hooks=hooks,
            sign_in_urls=_sign_in_urls(settings.base_url, self.providers),
        )
        self.tokens = TokenService(refresher, leeway=settings.token_refresh_leeway)
        self.quota = QuotaGuard(self.store.quota, check_interval=settings.quota_check_interval)
        self.calls = ProviderCalls(self.tokens, clients, quota=self.quota)
        self.sites = SitesCache(
            self.store.accounts, self.tokens, self.calls, ttl=settings.sites_cache_ttl
        )
        self.keys = KeyRotation(self.store.accounts, self.keyring)
        self._clients = clients
        self.idle_grants = IdleGrants(self.store.accounts, self.tokens, self.providers)
        self.started = False

    @classmethod
    def from_options(
        cls,
        providers: Sequence[OAuthProvider],
        *,
        http_transport: httpx2.AsyncBaseTransport | None = None,
        **options: Unpack[KavachOptions],
    ) -> Kavach:
        """A `Kavach` for the router's keyword options: the settings, and ``hooks=``.

        The one way from options to a runtime, so that whatever takes the router's options
        (``kavach_router``, a background job's runtime) gets the same settings and hooks.

        Raises:
            ConfigurationError: an option or variable is invalid, or ``hooks`` is not a
                [`KavachHooks`][kavach_fastapi.KavachHooks].
        """
        return cls(
            providers,
            load_options(**options),
            http_transport=http_transport,
            hooks=hooks_of(**options),
        )

    def personal_data_reporter(self, provider_id: str = "atlassian") -> PersonalDataReporter:
        """Atlassian's personal-data reporting for this app's database (`kavach_fastapi.privacy`).

        Raises:
            ConfigurationError: no provider has this id.
        """
        client = self._clients.get(provider_id)
        if client is None:
            raise ConfigurationError(
                f"Personal-data reporting needs the {provider_id!r} provider; configure "
                "atlassian_provider()."
            )
        return PersonalDataReporter(self.store.privacy, self.tokens, client)

    async def rotate_keys(self) -> int:
        """Re-encrypt every stored token with the newest ``KAVACH_SECRET`` key (see `.keys`)."""
        return await self.keys.rotate()

    async def end_user_sessions(self, user_id: str) -> int:
        """Sign a user out everywhere: end every session of theirs; how many ended.

        For admins: ``await router.kavach.end_user_sessions(user.id)``. This process refuses
        those sessions at once, every other one within ``KAVACH_SESSION_CACHE_SECONDS``.
        """
        return await self.sessions.end_user_sessions(user_id)

    @staticmethod
    def _new_transport() -> httpx2.AsyncBaseTransport:
        return httpx2.AsyncHTTPTransport(retries=1, trust_env=False)

    async def start(self) -> None:
        """Check (or bring) the schema up to date. The lifespan calls it, once."""
        await self._ensure_schema()
        self.started = True

    async def _ensure_schema(self) -> None:
        # Alembic is imported here, when an app starts, not when the package is imported.
        from .migrate import (  # noqa: PLC0415
            head_revision,
            reaching,
            schema_behind,
            schema_revision,
            upgrade,
            upgrades_at_start,
        )

        head = head_revision()
        current = await schema_revision(self.store.database)
        if current == head:
            return
        if not upgrades_at_start(self.settings):
            raise ConfigurationError(
                schema_behind(self.store.database, current, ", then start the app again.")
            )
        async with reaching(self.store.database):
            before, after = await upgrade(self.store.database.writer)
        if before != after:
            logger.info("kavach schema upgraded from %s to %s", before or "(empty)", after)

    async def close(self) -> None:
        """End the work left in the background and record the gathered session activity, then
        release database connections and the HTTP pool."""
        await self.tokens.aclose()
        await self.sessions.aclose()
        await self.quota.aclose()
        await self.store.dispose()
        if self._owns_transport:
            await self.http.inner.aclose()
            self.http.inner = self._new_transport()
        self.started = False

    def answer(self, request: Request, exc: KavachError) -> Response:
        """The JSON answer for an error of this app, with ``reauth_url`` added as it is sent."""
        reauth = None
        if exc.code is ErrorCode.REAUTH_REQUIRED:
            provider = next(iter(self.providers))
            reauth = reauth_url(request, self.settings.base_url, provider)
        return error_response(exc, reauth_url=reauth)

    def attach(self, app: ASGIApp) -> None:
        """Register on the app, so that dependencies find this instance, and answer its errors.

        Raises:
            ConfigurationError: not a FastAPI app, or one that includes two kavach routers.
        """
        if not isinstance(app, FastAPI):
            raise ConfigurationError("kavach_router() must be included in a FastAPI app.")
        current = getattr(app.state, STATE_KEY, None)
        if current is not None and current is not self:
            raise ConfigurationError(
                "This app includes two kavach routers; include kavach_router() once."
            )
        setattr(app.state, STATE_KEY, self)
        _RUNNING[app] = self
        _answer_errors(app, self.answer)
        declare_answers(app)

    def detach(self, app: ASGIApp) -> None:
        """Undo `attach` at shutdown."""
        if _RUNNING.get(app) is self:
            del _RUNNING[app]
        if isinstance(app, FastAPI) and getattr(app.state, STATE_KEY, None) is self:
            setattr(app.state, STATE_KEY, None)

    @asynccontextmanager
    async def lifespan(self, app: ASGIApp) -> AsyncIterator[None]:
        """The router's lifespan: start, attach, and clean up at shutdown (or failed start)."""
        try:
            try:
                await self.start()
            except KavachError as exc:  # a database out of reach, a schema to upgrade
                said_in_one_line_by_the_server(exc)
                raise
            self.attach(app)
            self.sessions.memory.listen(self.store.database.engine)
            logger.info("kavach started with providers %s", ", ".join(self.providers))
            yield
        finally:
            self.detach(app)
            await self.close()


def _sign_in_urls(base_url: str | None, providers: Iterable[str]) -> dict[str, str]:
    """Where a person consents again to each provider, known without a request only when
    ``KAVACH_BASE_URL`` is set (a job outside a request has none to derive it from)."""
    return (
        {provider: authorize_url(base_url, provider) for provider in providers} if base_url else {}
    )


def _site_listers(clients: dict[str, OAuthClient]) -> dict[str, SiteLister]:
    """How a sign-in lists the sites of a new token: Atlassian's ``accessible-resources``."""
    listers: dict[str, SiteLister] = {}
    for provider_id, client in clients.items():
        provider = client.provider
        if isinstance(provider, AtlassianProvider):

            async def lister(
                token: str, client: OAuthClient = client, provider: AtlassianProvider = provider
            ) -> list[AtlassianSite]:
                return await sites_of_token(client, provider, token)

            listers[provider_id] = lister
    return listers


def _answer_errors(app: FastAPI, answer: Callable[[Request, KavachError], Response]) -> None:
    """Have the app answer ``KavachError`` from its own routes (``current_user`` in ``/me``).

    FastAPI gives a router no way to bring exception handlers, and the lifespan, the first
    moment the package sees the app, runs inside the middleware stack Starlette has already
    built, with a copy of the handlers. So the handler is added twice, once each place:

    * to ``app.exception_handlers``, the public list, so that any later build includes it;
    * to the live stack's ``ExceptionMiddleware``, through its public ``add_exception_handler``.
      It is found by following the ``app`` attribute every Starlette middleware (and nearly
      every other) keeps of the application it wraps. Only when some middleware hides it is
      the stack rebuilt instead: that instantiates the app's middleware a second time, which
      a middleware with side effects in its constructor may not expect.

    An app that registered its own handler for ``KavachError`` keeps it.
    """
    if KavachError in app.exception_handlers:
        return

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KavachError)  # noqa: S101 - registered for KavachError only
        return answer(request, exc)

    app.add_exception_handler(KavachError, handler)
    layer: object = app.middleware_stack
    while layer is not None and not isinstance(layer, ExceptionMiddleware):
        layer = getattr(layer, "app", None)
    if isinstance(layer, ExceptionMiddleware):
        layer.add_exception_handler(KavachError, handler)
    elif app.middleware_stack is not None:
        logger.info("kavach: rebuilding the middleware stack to answer its errors as JSON")
        app.middleware_stack = app.build_middleware_stack()
