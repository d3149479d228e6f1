"""How healthy a provider grant is, from the times the package keeps: pure rules, no I/O.

Atlassian ends a grant in two ways that no error announces in advance:

* a refresh token unused for 90 days dies (`REFRESH_TOKEN_IDLE_LIMIT`); each refresh issues a
  new one, so refreshing within 90 days keeps an idle person's grant alive;
* the whole grant ends 365 days after the first consent (`GRANT_LIFETIME`), however often it
  is refreshed; a later consent joins the live grant and does not move that date.

The account row keeps the two times these rules need: ``granted_at`` (the first consent of the
grant the tokens belong to) and ``updated_at`` (when its tokens were last issued, by a sign-in
or a refresh; key rotation leaves it alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

GRANT_LIFETIME = timedelta(days=365)
"""Atlassian ends a grant this long after its first consent."""

REFRESH_TOKEN_IDLE_LIMIT = timedelta(days=90)
"""Atlassian ends a refresh token unused for this long."""

DEFAULT_IDLE_AFTER = REFRESH_TOKEN_IDLE_LIMIT / 3
"""A grant not refreshed for this long counts as idle: a monthly refresh run has two more
chances before Atlassian's limit ends it (``kavach grants --older-than``)."""

DEFAULT_EXPIRING_WITHIN = timedelta(days=30)
"""A grant that reaches `GRANT_LIFETIME` within this counts as expiring
(``kavach grants status --expiring-within``)."""


@dataclass(frozen=True)
class GrantFacts:
    """What the account table says about one grant, without its tokens.

    Attributes:
        account_id: the account row.
        provider: the provider id, e.g. ``"atlassian"``.
        needs_reauth: the grant was found dead, or disconnected.
        has_access_token: an access token is stored.
        has_refresh_token: a refresh token is stored (``offline_access`` was granted).
        granted_at: the first consent of this grant.
        tokens_issued_at: when its tokens were last issued (sign-in or refresh).
    """

    account_id: str
    provider: str
    needs_reauth: bool
    has_access_token: bool
    has_refresh_token: bool
    granted_at: datetime
    tokens_issued_at: datetime


@dataclass(frozen=True)
class GrantHealth:
    """One grant's health. ``idle`` and ``expiring`` may both hold; neither when it needs consent.

    Attributes:
        needs_consent: the person must sign in again before the app can act for them: marked
            dead, disconnected, without a refresh token, or past one of Atlassian's limits.
        idle: usable, but its tokens were not refreshed for the idle threshold.
        expiring: usable, but it reaches `GRANT_LIFETIME` within the warning window.
    """

    needs_consent: bool
    idle: bool
    expiring: bool

    @property
    def healthy(self) -> bool:
        """Usable, recently refreshed, and not near its end."""
        return not (self.needs_consent or self.idle or self.expiring)


def health_of(
    facts: GrantFacts, *, now: datetime, idle_after: timedelta, expiring_within: timedelta
) -> GrantHealth:
    """The health of one grant at ``now``.

    Args:
        facts: the grant.
        now: the time to judge at.
        idle_after: a grant not refreshed for this long is idle.
        expiring_within: a grant that reaches `GRANT_LIFETIME` within this is expiring.
    """
    ends_at = facts.granted_at + GRANT_LIFETIME
    dead = (
        facts.needs_reauth
        or not facts.has_access_token
        or not facts.has_refresh_token
        or now >= ends_at
        or now >= facts.tokens_issued_at + REFRESH_TOKEN_IDLE_LIMIT
    )
    if dead:
        return GrantHealth(needs_consent=True, idle=False, expiring=False)
    return GrantHealth(
        needs_consent=False,
        idle=now - facts.tokens_issued_at >= idle_after,
        expiring=ends_at - now <= expiring_within,
    )


def grant_start_after_consent(
    *,
    granted_at: datetime | None,
    tokens_issued_at: datetime | None,
    found_dead: bool,
    now: datetime,
) -> datetime:
    """When the grant that a consent at ``now`` belongs to was first consented to.

    A consent while the grant lives joins it (its 365 days keep counting); once it is dead (the
    provider answered ``invalid_grant``, or a limit passed), the consent starts a new grant. A
    local disconnect does not end Atlassian's grant, so it does not count as dead.

    Args:
        granted_at: the stored start, ``None`` for an account seen for the first time.
        tokens_issued_at: when its tokens were last issued.
        found_dead: the account was marked as needing consent with its tokens still stored
            (the provider refused them), not disconnected.
        now: the time of the consent.
    """
    if granted_at is None or found_dead or now >= granted_at + GRANT_LIFETIME:
        return now
    if tokens_issued_at is not None and now >= tokens_issued_at + REFRESH_TOKEN_IDLE_LIMIT:
        return now
    return granted_at
