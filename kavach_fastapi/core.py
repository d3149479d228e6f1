"""One app's kavach: its settings, providers, database and services, started by the lifespan.

:func:`~kavach_fastapi.kavach_router` builds one :class:`Kavach` per router. Nothing is global:
two apps in one process, each with its own router and database, never see each other. The
router's lifespan starts it (tables, HTTP pool) and registers it on ``app.state`` so that the
dependencies (``current_user`` and friends) used in any route of the app can find it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx2
from fastapi import FastAPI
from starlette.types import ASGIApp

from .crypto import Keyring
from .errors import ConfigurationError, KavachError
from .housekeeping import Housekeeper
from .keyfile import is_sqlite, resolve_secret_keys
from .migrate import current_revision, head_revision, upgrade
from .oauth import OAuthClient, SharedTransport
from .providers.atlassian import AtlassianProvider
from .providers.base import OAuthProvider
from .ratelimit import RateLimiter
from .sessions import SessionManager
from .settings import KavachSettings
from .signin import SignInService
from .store import Store
from .tokens import TokenService
from .web import kavach_error_handler

logger = logging.getLogger("kavach_fastapi")

STATE_KEY = "kavach"
"""The attribute of ``app.state`` that holds the app's :class:`Kavach`."""


class Kavach:
    """Everything one app's sign-in needs.

    Args:
        providers: the sign-in providers, each with a distinct id.
        settings: the ``KAVACH_*`` settings.
        http_transport: the transport for calls to providers; a pooled HTTP transport when
            ``None``. Tests pass the emulator's ASGI transport or an ``httpx2.MockTransport``.
    """

    def __init__(
        self,
        providers: Sequence[OAuthProvider],
        settings: KavachSettings,
        *,
        http_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        if not providers:
            raise ConfigurationError(
                "kavach_router() needs at least one provider, e.g. providers=[atlassian_provider()]."
            )
        ids = [provider.id for provider in providers]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(f"Provider ids must be distinct, got {ids}.")
        self.settings = settings
        self.providers = {provider.id: provider for provider in providers}
        self.keyring = Keyring(resolve_secret_keys(settings))
        self.store = Store(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
        self.sessions = SessionManager(
            self.store,
            lifetime=settings.session_lifetime,
            idle_timeout=settings.session_idle_timeout,
            cache_seconds=settings.session_cache_seconds,
        )
        self._owns_transport = http_transport is None
        self.http = SharedTransport(http_transport or self._new_transport())
        clients = {
            provider.id: OAuthClient(provider, transport=self.http, timeout=settings.http_timeout)
            for provider in providers
        }
        self.sign_in = SignInService(
            self.store,
            self.keyring,
            self.sessions,
            clients,
            max_pending=settings.max_pending_sign_ins,
        )
        self.housekeeper = Housekeeper(self.store, idle_timeout=settings.session_idle_timeout)
        self.rate_limiter = RateLimiter(self.store, per_minute=settings.rate_limit)
        self.tokens = TokenService(
            self.store,
            self.keyring,
            clients,
            leeway=settings.token_refresh_leeway,
            sites_ttl=settings.sites_cache_ttl,
        )
        self._started = False
        self._start_lock = asyncio.Lock()

    def atlassian(self) -> AtlassianProvider:
        """The configured Atlassian provider.

        Raises:
            ConfigurationError: the router has no Atlassian provider.
        """
        provider = self.providers.get("atlassian")
        if not isinstance(provider, AtlassianProvider):
            raise ConfigurationError(
                "This needs the Atlassian provider: kavach_router(providers=[atlassian_provider()])."
            )
        return provider

    async def rotate_keys(self) -> int:
        """Re-encrypt every stored token with the newest ``KAVACH_SECRET`` key.

        Returns:
            How many accounts were rewritten. Run it after putting a new key first in
            ``KAVACH_SECRET``; the old keys can be removed once it returns.
        """
        await self.ensure_started()
        return await self.tokens.rotate_keys()

    @staticmethod
    def _new_transport() -> httpx2.AsyncBaseTransport:
        return httpx2.AsyncHTTPTransport(retries=1, trust_env=False)

    async def ensure_started(self) -> None:
        """Check (or bring) the schema up to date once. Cheap after the first call."""
        if self._started:
            return
        async with self._start_lock:
            if not self._started:
                await self._ensure_schema()
                self._started = True

    async def _ensure_schema(self) -> None:
        head = head_revision()
        current = await current_revision(self.store.engine)
        if current == head:
            return
        auto = self.settings.auto_migrate
        if auto is None:
            auto = is_sqlite(self.settings.database_url)
        if not auto:
            raise ConfigurationError(
                f"The database's kavach tables are at revision {current or '(none)'}, and this "
                f"version of kavach-fastapi needs {head}. Run `kavach db upgrade` with the same "
                "KAVACH_DATABASE_URL, then start the app again."
            )
        before, after = await upgrade(self.store.writer)
        if before != after:
            logger.info("kavach schema upgraded from %s to %s", before or "(empty)", after)

    async def close(self) -> None:
        """Release database connections and the HTTP pool."""
        await self.store.dispose()
        if self._owns_transport:
            await self.http.inner.aclose()
            self.http.inner = self._new_transport()
        self._started = False

    def attach(self, app: ASGIApp) -> None:
        """Register on the app so dependencies can find this instance.

        Also installs the JSON error handler for :class:`KavachError` unless the app has one:
        an ``APIRouter`` cannot bring exception handlers, so the lifespan adds it and has the
        app rebuild its middleware stack on the next request.
        """
        if not isinstance(app, FastAPI):
            raise ConfigurationError("kavach_router() must be included in a FastAPI app.")
        current = getattr(app.state, STATE_KEY, None)
        if current is not None and current is not self:
            raise ConfigurationError(
                "This app includes two kavach routers; include kavach_router() once."
            )
        setattr(app.state, STATE_KEY, self)
        if KavachError not in app.exception_handlers:
            app.add_exception_handler(KavachError, kavach_error_handler)
            app.middleware_stack = None

    def detach(self, app: ASGIApp) -> None:
        """Undo :meth:`attach` at shutdown."""
        if isinstance(app, FastAPI) and getattr(app.state, STATE_KEY, None) is self:
            setattr(app.state, STATE_KEY, None)

    @asynccontextmanager
    async def lifespan(self, app: ASGIApp) -> AsyncIterator[None]:
        """The router's lifespan: start, attach, and clean up at shutdown (or failed start)."""
        try:
            await self.ensure_started()
            self.attach(app)
            logger.info("kavach started with providers %s", ", ".join(self.providers))
            yield
        finally:
            self.detach(app)
            await self.close()
