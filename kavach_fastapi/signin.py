"""The sign-in flow: start an attempt, then finish it from the provider's callback.

An attempt is a row keyed by the hash of a random ``state``. It holds the PKCE verifier
(encrypted), where to land afterwards, and the hash of a random value kept in a short-lived
HttpOnly cookie of the browser that started it (the *browser binding*). Only that browser can
finish it, only once, and only within `ATTEMPT_LIFETIME`. The database holds the attempts,
so any worker or instance can finish what another started.

Finishing consumes the attempt first, in one statement that matches its state, browser binding
and provider together (a callback opened in another browser consumes nothing), then talks to the
provider (`kavach_fastapi.signin_answer` reads what its callback and profile say), asks
`kavach_fastapi.admission` whether the person may sign in (scopes, site policy, the app's
``before_sign_in`` hook), then writes the user, the linked account and a new session in one
transaction. Any failure before that transaction leaves nothing behind; a
``user_created`` or ``signed_in`` hook that raises after it has the write undone (`_undo`:
tried again while the database is unavailable, and never with the session's token handed out).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from . import metrics
from .admission import Admission
from .background import run_to_the_end
from .codes import ErrorCode
from .crypto import DecryptionError, Keyring, TokenOwner, hash_token, new_token, seal_tokens
from .devices import UNKNOWN_DEVICE, Device
from .errors import (
    DatabaseUnavailableError,
    InvalidStateError,
    KavachError,
    SignInBusyError,
    SignInHookError,
    UnknownProviderError,
)
from .hooks import NO_HOOKS, KavachHooks, SignInEvent, run_after_sign_in
from .models import User
from .oauth import OAuthClient, new_code_verifier
from .redirects import check_storable
from .retry import SHORT_WRITE, retry_while_unavailable
from .sessions import SessionManager
from .signin_answer import active_profile, code_of
from .store.attempts import AttemptStore
from .store.signins import RecordedSignIn, SignInStore
from .tables import SignInAttemptRow, utcnow

logger = logging.getLogger("kavach_fastapi")

ATTEMPT_LIFETIME = timedelta(minutes=10)
"""How long a person has to come back from the consent page."""

MAX_PENDING_PER_BROWSER = 5
"""Sign-ins one browser may have pending at once (tabs); older ones are dropped beyond it."""


def _verifier_context(state_hash: str) -> str:
    return f"kavach:sign_in_attempts:{state_hash}:code_verifier"


@dataclass(frozen=True)
class SignInStart:
    """Where to send the browser, and the binding value its cookie must carry."""

    authorization_url: str
    browser_binding: str


@dataclass(frozen=True)
class PendingSignIn:
    """An attempt consumed by its callback: from here on, failures land on ``redirect_to``."""

    attempt: SignInAttemptRow
    state_hash: str

    @property
    def redirect_to(self) -> str:
        """Where the person lands afterwards, whether the sign-in succeeds or not."""
        return self.attempt.redirect_to


@dataclass(frozen=True)
class SignInResult:
    """A finished sign-in: the new session token and where to land."""

    user: User
    session_token: str
    session_expires_at: datetime
    redirect_to: str


class SignInService:
    """Runs sign-ins for the configured providers.

    Args:
        attempts: the pending sign-ins.
        signins: records finished ones.
        keyring: encrypts tokens and verifiers at rest.
        sessions: issues the session at the end.
        clients: an OAuth client per provider id.
        max_pending: sign-ins that may be pending at once in all (``KAVACH_MAX_PENDING_SIGN_INS``).
        admission: who may sign in; anyone the provider vouches for when ``None``.
        hooks: the app's ``user_created`` and ``signed_in`` hooks are run from here.
    """

    def __init__(
        self,
        attempts: AttemptStore,
        signins: SignInStore,
        keyring: Keyring,
        sessions: SessionManager,
        clients: Mapping[str, OAuthClient],
        *,
        max_pending: int,
        admission: Admission | None = None,
        hooks: KavachHooks = NO_HOOKS,
    ) -> None:
        self._admission = admission or Admission(hooks, (), {})
        self._hooks = hooks
        self._attempts = attempts
        self._signins = signins
        self._keyring = keyring
        self._sessions = sessions
        self._clients = dict(clients)
        self._max_pending = max_pending

    def client(self, provider_id: str) -> OAuthClient:
        """The OAuth client of a provider.

        Raises:
            UnknownProviderError: no provider has this id.
        """
        try:
            return self._clients[provider_id]
        except KeyError:
            raise UnknownProviderError from None

    async def start(
        self,
        provider_id: str,
        *,
        redirect_uri: str,
        redirect_to: str,
        browser_binding: str | None,
        extra_scopes: tuple[str, ...] = (),
    ) -> SignInStart:
        """Record a new attempt and build the consent URL.

        Args:
            provider_id: which provider to sign in with.
            redirect_uri: this app's callback URL, registered with the provider.
            redirect_to: where to land afterwards, already checked by the caller.
            browser_binding: the binding cookie's value if the browser has one, so that several
                tabs signing in at once all stay valid.
            extra_scopes: scopes to ask for besides the provider's (already checked).

        Raises:
            UnknownProviderError: no provider has this id.
            KavachError: ``invalid_request``, a value is too long to keep (nothing is written).
            SignInBusyError: as many sign-ins as allowed are pending; nothing is written.
        """
        check_storable(redirect_uri=redirect_uri, redirect_to=redirect_to)
        client = self.client(provider_id)
        binding = browser_binding if _looks_like_token(browser_binding) else new_token(32)
        state = new_token(32)
        state_hash = hash_token(state)
        verifier = new_code_verifier() if client.provider.use_pkce else None
        now = utcnow()
        full_until = await self._attempts.add_attempt(
            SignInAttemptRow(
                state_hash=state_hash,
                browser_hash=hash_token(binding),
                provider=provider_id,
                code_verifier=(
                    self._keyring.encrypt(verifier, context=_verifier_context(state_hash))
                    if verifier
                    else None
                ),
                redirect_uri=redirect_uri,
                redirect_to=redirect_to,
                created_at=now,
                expires_at=now + ATTEMPT_LIFETIME,
            ),
            keep_per_browser=MAX_PENDING_PER_BROWSER,
            max_pending=self._max_pending,
        )
        if full_until is not None:
            logger.info("sign-in start refused: %d sign-ins are pending", self._max_pending)
            wait = math.ceil((full_until - now).total_seconds())
            raise SignInBusyError(retry_after=max(1, wait))
        url = client.authorization_url(
            redirect_uri=redirect_uri,
            state=state,
            code_verifier=verifier,
            extra_scopes=extra_scopes,
        )
        return SignInStart(authorization_url=url, browser_binding=binding)

    async def take(
        self, provider_id: str, *, state: str | None, browser_binding: str | None
    ) -> PendingSignIn:
        """Consume the attempt named by ``state``, if this browser started it.

        Raises:
            UnknownProviderError: no provider has this id.
            InvalidStateError: no such attempt of this browser (already used, never started,
                or started in another browser, which keeps it usable there).
        """
        self.client(provider_id)
        try:
            return await self._take(provider_id, state, browser_binding)
        except InvalidStateError as exc:
            metrics.record_sign_in(provider_id, "failure", exc.code.value)
            raise

    async def _take(
        self, provider_id: str, state: str | None, browser_binding: str | None
    ) -> PendingSignIn:
        if not _looks_like_token(state):
            raise InvalidStateError
        state_hash = hash_token(state)
        attempt = (
            await self._attempts.take_attempt(
                state_hash, browser_hash=hash_token(browser_binding), provider=provider_id
            )
            if _looks_like_token(browser_binding)
            else None
        )
        if attempt is None:
            # Nothing was consumed: the attempt stays usable by the browser that started it.
            if await self._attempts.attempt_exists(state_hash, provider=provider_id):
                logger.warning("sign-in callback refused: opened in another browser")
                raise InvalidStateError(code=ErrorCode.BROWSER_MISMATCH)
            raise InvalidStateError
        return PendingSignIn(attempt=attempt, state_hash=state_hash)

    async def complete(
        self,
        pending: PendingSignIn,
        *,
        code: str | None,
        error: str | None,
        issuer: str | None,
        device: Device = UNKNOWN_DEVICE,
    ) -> SignInResult:
        """Finish a consumed attempt with the provider's answer.

        ``device`` is what the new session records of the browser that signed in.

        Raises:
            SignInError: a subclass saying what failed; the person lands on
                ``pending.redirect_to`` to read it. A hook that raised is always
                ``SignInHookError``, even when the database failed its undo (`_undo`).
            DatabaseUnavailableError: the database failed; the sign-in's write is one
                transaction, so nothing of it stays. The person lands on
                ``pending.redirect_to`` too.
        """
        client = self.client(pending.attempt.provider)
        try:
            result = await self._complete(
                client, pending.attempt, pending.state_hash, code, error, issuer, device
            )
        except KavachError as exc:
            metrics.record_sign_in(client.provider.id, "failure", exc.code.value)
            raise
        metrics.record_sign_in(client.provider.id, "success")
        return result

    async def _complete(
        self,
        client: OAuthClient,
        attempt: SignInAttemptRow,
        state_hash: str,
        code: str | None,
        error: str | None,
        issuer: str | None,
        device: Device,
    ) -> SignInResult:
        provider = client.provider
        now = utcnow()
        code = code_of(provider, attempt, code=code, error=error, issuer=issuer, now=now)
        verifier = self._verifier(attempt, state_hash)
        tokens = await client.exchange_code(
            code=code, redirect_uri=attempt.redirect_uri, code_verifier=verifier
        )
        profile = active_profile(provider, await client.fetch_profile(tokens.access_token))
        sites = await self._admission.admit(
            provider, profile, access_token=tokens.access_token, granted=tokens.scopes
        )
        # Everything the write needs is ready before its transaction: no callback runs in it.
        sealed = seal_tokens(
            self._keyring, tokens, TokenOwner(provider.id, profile.account_id), provider.scopes
        )
        session_token, new_session = self._sessions.new_session(now, device)
        recorded = await self._signins.record_sign_in(
            provider=provider.id,
            profile=profile,
            tokens=sealed,
            session=new_session,
            now=now,
            sites=sites,
        )
        user = User.from_row(recorded.user)
        event = SignInEvent(user, provider.id, profile, recorded.user_created, sites or ())
        await self._run_hooks(event, recorded)
        logger.info("%s sign-in finished for user %s", provider.name, recorded.user.id)
        return SignInResult(
            user=user,
            session_token=session_token,
            session_expires_at=new_session.expires_at,
            redirect_to=attempt.redirect_to,
        )

    async def _run_hooks(self, event: SignInEvent, recorded: RecordedSignIn) -> None:
        """Run the app's ``user_created`` and ``signed_in`` hooks on a recorded sign-in.

        A hook that raises, or a request cancelled while a hook runs (the person left: the
        session's token will never reach them), has the sign-in undone, as if it never
        happened, before the error or the cancellation goes on.

        Raises:
            SignInHookError: a hook raised.
        """
        try:
            hooks_ran = await run_after_sign_in(self._hooks, event)
        except asyncio.CancelledError:
            await self._undo(recorded)
            raise
        if not hooks_ran:
            await self._undo(recorded)
            raise SignInHookError

    async def _undo(self, recorded: RecordedSignIn) -> None:
        """Undo the write of a sign-in whose hook raised (the caller then raises
        ``SignInHookError`` whatever happened here, since the hook is why the sign-in failed),
        or whose request was cancelled while a hook ran.

        The undo is tried again while the database is unavailable (`SHORT_WRITE`: the browser
        waits for its answer) and run to its end even if the request is cancelled meanwhile. Should
        every try fail, the rows stay and the log says so, naming the user. The new session
        among them can never be used: its token, made by `_complete`, is dropped with the error
        (never set as a cookie, never logged), and only its hash is stored; housekeeping
        deletes it once idle (``KAVACH_SESSION_IDLE_TIMEOUT``). A user this sign-in created
        stays, with their linked account, as a user whose hook failed: their next sign-in finds
        them, so ``user_created`` is not run again for them.
        """
        try:
            await run_to_the_end(
                retry_while_unavailable(lambda: self._signins.undo_sign_in(recorded), SHORT_WRITE)
            )
        except DatabaseUnavailableError:
            left = (
                "the user it created stays, with their linked account and"
                if recorded.user_created
                else "the user, who existed before, keeps"
            )
            logger.error(
                "sign-in of user %s could not be undone after its hooks did not finish (the "
                "database is unavailable): %s a new session that nobody can use (its token "
                "was never handed out) until housekeeping deletes it",
                recorded.user.id,
                left,
            )

    def _verifier(self, attempt: SignInAttemptRow, state_hash: str) -> str | None:
        if attempt.code_verifier is None:
            return None
        try:
            return self._keyring.decrypt(
                attempt.code_verifier, context=_verifier_context(state_hash)
            )
        except DecryptionError:
            # The key that sealed it left KAVACH_SECRET while the person was at the consent
            # page: this attempt cannot finish, a new one will.
            raise InvalidStateError from None


def _looks_like_token(value: str | None) -> TypeGuard[str]:
    return value is not None and 16 <= len(value) <= 128 and value.isascii() and value.isprintable()
