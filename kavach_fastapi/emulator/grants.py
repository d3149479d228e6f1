"""The OAuth rules: consent, code exchange, refresh-token rotation and token checks.

Nothing here knows about HTTP. Failures raise `OAuthError`, which the app turns
into the JSON error Atlassian would answer with.

The rules, as Atlassian documents them:

* A code is single use and lives 10 minutes; it must be redeemed by the app it was issued
  to, with the same ``redirect_uri``, and with a ``code_verifier`` that matches the PKCE
  challenge when one was sent, and without one when none was (RFC 9700, section 2.1.1: a
  verifier without a challenge is a downgrade). Redeeming a used code again also revokes every token
  issued from it (RFC 6749, section 4.1.2).
* ``refresh_token`` is issued only when ``offline_access`` was granted.
* A second consent of the same person to the same app joins the first grant: every token
  issued afterwards (by a code or a refresh) carries every scope granted so far, and reaches
  every site granted so far.
* Each refresh rotates: a new refresh token is returned and the one sent is retired. A
  retired token still works for the reuse interval (10 minutes); presented later, it
  revokes the whole grant.
* After a refresh, the access token issued before it keeps working for a grace period
  (10 minutes), then dies, even before its own expiry.
* A refresh token dies after 90 days unused, and the grant 365 days after the first
  consent, however often it is refreshed.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable

from kavach_fastapi.emulator.clock import EmulatorClock
from kavach_fastapi.emulator.config import Lifetimes
from kavach_fastapi.emulator.issuance import (
    IssuedTokens,
    OAuthError,
    invalid_grant,
    issue_tokens,
    pkce_challenge,
    revoke_family,
    revoke_grant,
    union,
)
from kavach_fastapi.emulator.state import (
    AccessToken,
    AuthorizationCode,
    EmulatorState,
    Grant,
    PendingConsent,
)

__all__ = ["GrantService", "IssuedTokens", "OAuthError", "pkce_challenge"]

logger = logging.getLogger("kavach_fastapi.emulator")

_DEAD_REFRESH_MESSAGE = "Unknown or invalid refresh token"


class GrantService:
    """Applies the rules to one emulator's state.

    Args:
        state: The emulator's state.
        clock: The clock every expiry is measured with.
        lifetimes: How long codes, tokens and grants live.
        revoke_old_access_token_on_refresh: Whether a refresh ends the access token that
            was issued together with the refresh token sent, once
            ``lifetimes.old_access_token_grace`` has passed.
    """

    def __init__(
        self,
        state: EmulatorState,
        clock: EmulatorClock,
        lifetimes: Lifetimes,
        *,
        revoke_old_access_token_on_refresh: bool = True,
    ) -> None:
        self.state = state
        self.clock = clock
        self.lifetimes = lifetimes
        self.revoke_old_access_token_on_refresh = revoke_old_access_token_on_refresh

    # Consent -------------------------------------------------------------------------

    def consent(self, pending: PendingConsent, account_id: str, site_ids: list[str]) -> str:
        """Record an accepted consent and return a fresh authorization code.

        A live grant of the same person to the same app is extended: new sites join it
        and its 365 days still count from the first consent.
        """
        now = self.clock.now()
        with self.state.lock:
            grant = self._live_grant_of(pending.client_id, account_id)
            if grant is None:
                grant = Grant(
                    id=secrets.token_hex(8),
                    client_id=pending.client_id,
                    account_id=account_id,
                    scopes=pending.scopes,
                    site_ids=list(site_ids),
                    created_at=now,
                )
                self.state.grants[grant.id] = grant
            else:
                grant.scopes = union(grant.scopes, pending.scopes)
                grant.site_ids = list(union(tuple(grant.site_ids), tuple(site_ids)))
            code = AuthorizationCode(
                code=secrets.token_urlsafe(24),
                grant_id=grant.id,
                client_id=pending.client_id,
                redirect_uri=pending.redirect_uri,
                scopes=pending.scopes,
                code_challenge=pending.code_challenge,
                created_at=now,
            )
            self.state.codes[code.code] = code
        logger.info("consent accepted: grant %s for account %s", grant.id, account_id)
        return code.code

    def _live_grant_of(self, client_id: str, account_id: str) -> Grant | None:
        for grant in self.state.grants.values():
            if (
                grant.client_id == client_id
                and grant.account_id == account_id
                and self._grant_alive(grant)
            ):
                return grant
        return None

    def _grant_alive(self, grant: Grant) -> bool:
        return not grant.revoked and self.clock.now() < grant.created_at + self.lifetimes.grant

    # Code exchange ---------------------------------------------------------------------

    def exchange_code(
        self,
        client_id: str,
        code: str,
        redirect_uri: str | None,
        code_verifier: str | None,
        *,
        omit_refresh_token: Callable[[], bool],
    ) -> IssuedTokens:
        """Redeem an authorization code.

        Args:
            client_id: The authenticated app.
            code: The code from the callback.
            redirect_uri: The ``redirect_uri`` sent with the exchange.
            code_verifier: The PKCE verifier, if any.
            omit_refresh_token: Asked only when a refresh token would be issued; ``True``
                leaves it out (the ``no_refresh_token`` fault).

        Raises:
            OAuthError: ``invalid_grant`` for any code that cannot be redeemed.
        """
        now = self.clock.now()
        with self.state.lock:
            record = self.state.codes.get(code)
            if record is None:
                raise invalid_grant("Invalid authorization code")
            if record.used:
                revoked = revoke_family(self.state, record.code)
                logger.warning(
                    "authorization code reused: revoked %d token(s) issued from it", revoked
                )
                raise invalid_grant("Authorization code has already been used")
            if now >= record.created_at + self.lifetimes.authorization_code:
                raise invalid_grant("Authorization code has expired")
            if record.client_id != client_id:
                raise invalid_grant("Authorization code was issued to another client")
            if redirect_uri != record.redirect_uri:
                raise invalid_grant("redirect_uri does not match the authorization request")
            if record.code_challenge is None:
                # RFC 9700, 2.1.1: a verifier for a code issued without a challenge means the
                # challenge was lost or stripped on the way (a PKCE downgrade).
                if code_verifier:
                    raise invalid_grant(
                        "code_verifier sent for a code issued without a code_challenge"
                    )
            else:
                if not code_verifier:
                    raise invalid_grant("code_verifier is required")
                if not hmac.compare_digest(pkce_challenge(code_verifier), record.code_challenge):
                    raise invalid_grant("code_verifier does not match the code_challenge")
            grant = self.state.grants[record.grant_id]
            if not self._grant_alive(grant):
                raise invalid_grant("The grant has been revoked")
            record.used = True
            with_refresh = "offline_access" in grant.scopes and not omit_refresh_token()
            issued = self._issue(grant, record.code, with_refresh=with_refresh)
        logger.info("code exchanged: grant %s", grant.id)
        return issued

    # Refresh ---------------------------------------------------------------------------

    def refresh(
        self,
        client_id: str,
        refresh_token: str,
        *,
        omit_refresh_token: Callable[[], bool],
    ) -> IssuedTokens:
        """Rotate a refresh token.

        Args:
            client_id: The authenticated app.
            refresh_token: The refresh token sent.
            omit_refresh_token: Asked when a new refresh token would be issued; ``True``
                answers without one and keeps the sent token alive (not rotated).

        Raises:
            OAuthError: ``invalid_grant`` for a dead, unknown or replayed refresh token.
        """
        now = self.clock.now()
        with self.state.lock:
            record = self.state.refresh_tokens.get(refresh_token)
            if record is None or record.revoked:
                raise invalid_grant(_DEAD_REFRESH_MESSAGE)
            grant = self.state.grants[record.grant_id]
            if grant.client_id != client_id or not self._grant_alive(grant):
                raise invalid_grant(_DEAD_REFRESH_MESSAGE)
            if record.retired_at is not None:
                if now > record.retired_at + self.lifetimes.refresh_reuse_interval:
                    revoke_grant(self.state, grant)
                    logger.warning(
                        "retired refresh token replayed after the reuse interval: grant %s revoked",
                        grant.id,
                    )
                    raise invalid_grant(_DEAD_REFRESH_MESSAGE)
            elif now >= (record.last_used_at or record.issued_at) + (
                self.lifetimes.refresh_token_inactivity
            ):
                record.revoked = True
                raise invalid_grant(_DEAD_REFRESH_MESSAGE)
            if self.revoke_old_access_token_on_refresh:
                self._start_grace(record.access_token)
            if omit_refresh_token():
                issued = self._issue(grant, record.family, with_refresh=False)
                if record.retired_at is None:
                    record.access_token = issued.access_token
                    record.last_used_at = now
            else:
                if record.retired_at is None:
                    record.retired_at = now
                issued = self._issue(grant, record.family, with_refresh=True)
        logger.info("refresh token rotated: grant %s", grant.id)
        return issued

    def _start_grace(self, access_token: str) -> None:
        """Let the access token a refresh replaces live on for the grace period only."""
        old_access = self.state.access_tokens.get(access_token)
        if old_access is not None:
            ends = self.clock.now() + self.lifetimes.old_access_token_grace
            old_access.expires_at = min(old_access.expires_at, ends)

    # Access tokens ---------------------------------------------------------------------

    def authenticate(self, access_token: str) -> tuple[AccessToken, Grant] | None:
        """Return the live access token and its grant, or ``None`` when it is dead."""
        with self.state.lock:
            record = self.state.access_tokens.get(access_token)
            if record is None or record.revoked or self.clock.now() >= record.expires_at:
                return None
            grant = self.state.grants[record.grant_id]
            if not self._grant_alive(grant):
                return None
            return record, grant

    # Revocation ------------------------------------------------------------------------

    def revoke_account(self, account_id: str) -> int:
        """Revoke every grant of a person; return how many were live."""
        with self.state.lock:
            grants = [
                grant
                for grant in self.state.grants.values()
                if grant.account_id == account_id and not grant.revoked
            ]
            for grant in grants:
                revoke_grant(self.state, grant)
        logger.info("revoked %d grant(s) of account %s", len(grants), account_id)
        return len(grants)

    def _issue(self, grant: Grant, family: str, *, with_refresh: bool) -> IssuedTokens:
        return issue_tokens(
            self.state,
            grant,
            family,
            grant.scopes,
            now=self.clock.now(),
            lifetime=self.lifetimes.access_token,
            with_refresh=with_refresh,
        )
