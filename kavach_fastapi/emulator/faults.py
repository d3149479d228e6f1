"""Fault injection: make an endpoint slow, failing, rate limited or subtly wrong.

Faults are checked, in the order they were added, before an endpoint does its normal
work. ``latency`` waits and lets the call continue; ``status``, ``rate_limit`` and
``malformed_json`` answer at once; ``no_refresh_token`` lets the token call succeed but
leaves ``refresh_token`` out of the answer (and keeps the presented refresh token alive,
as Atlassian does when it answers that way); ``unauthorised_site`` lets
``accessible-resources`` succeed but also list the sites the person never authorised, as real
answers have been seen to do, and the product APIs of those sites then answer ``status``
(``403`` by default, or ``401``).

A ``rate_limit`` answers ``429`` with Atlassian's header set: ``Retry-After`` (seconds),
``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (``yyyy-MM-ddTHH:mmZ``)
and ``RateLimit-Reason`` (one of `RATE_LIMIT_REASONS`), plus ``X-RateLimit-NearLimit:
true`` for the quota (cost-based) reasons, which are the ones Atlassian sends it with.

Endpoints: ``"token"`` (every ``POST /oauth/token``), ``"authorization_code"`` and
``"refresh"`` (token calls of that grant type), and the api.atlassian.com endpoints by their
names in `API_ENDPOINTS`: ``"me"``,
``"accessible_resources"``, ``"jira_myself"``, ``"confluence_current_user"``,
``"confluence_spaces"`` and ``"report_accounts"``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["RATE_LIMIT_REASONS", "Fault", "FaultEndpoint", "FaultKind", "Faults", "near_limit"]

FaultKind = Literal[
    "latency", "status", "rate_limit", "malformed_json", "no_refresh_token", "unauthorised_site"
]
FaultEndpoint = Literal[
    "token",
    "authorization_code",
    "refresh",
    "me",
    "accessible_resources",
    "jira_myself",
    "confluence_current_user",
    "confluence_spaces",
    "report_accounts",
]

RateLimitReason = Literal[
    "jira-quota-global-based",
    "jira-quota-tenant-based",
    "jira-burst-based",
    "jira-per-issue-on-write",
]

RATE_LIMIT_REASONS: tuple[str, ...] = get_args(RateLimitReason)
"""The values Atlassian sends in ``RateLimit-Reason``."""

_QUOTA_REASONS = frozenset({"jira-quota-global-based", "jira-quota-tenant-based"})

_TOKEN_ENDPOINTS = frozenset({"token", "authorization_code", "refresh"})


@dataclass
class Fault:
    """One injected fault.

    Attributes:
        kind: What goes wrong: ``"latency"``, ``"status"``, ``"rate_limit"``,
            ``"malformed_json"``, ``"no_refresh_token"`` or ``"unauthorised_site"``.
        seconds: How long a ``latency`` fault waits.
        status: The HTTP status a ``status`` fault answers (400-599); for
            ``unauthorised_site``, what the unauthorised sites' APIs answer (401 or 403; the
            default 500 becomes 403).
        retry_after: Seconds sent in ``Retry-After``; ``rate_limit`` defaults to 1, and a
            ``status`` fault sends the header only when this is set.
        times: How many matching calls the fault applies to; ``None`` applies it until
            `Faults.clear`.
        reason: The ``RateLimit-Reason`` of a ``rate_limit`` (one of
            `RATE_LIMIT_REASONS`).

    Example:
        >>> Fault("rate_limit", retry_after=3, times=1)
        Fault(kind='rate_limit', seconds=0.0, status=429, retry_after=3, times=1, reason='jira-burst-based')
    """

    kind: FaultKind
    seconds: float = 0.0
    status: int = 500
    retry_after: int | None = None
    times: int | None = None
    reason: RateLimitReason = "jira-burst-based"

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind == "rate_limit":
            self.status = 429
            if self.retry_after is None:
                self.retry_after = 1
        if self.reason not in RATE_LIMIT_REASONS:
            raise ValueError(f"unknown RateLimit-Reason {self.reason!r}")
        if self.kind == "unauthorised_site":
            self.status = 403 if self.status == 500 else self.status
            if self.status not in (401, 403):
                raise ValueError("an unauthorised_site fault answers 401 or 403")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError("a status fault needs an error status between 400 and 599")
        if self.seconds < 0:
            raise ValueError("latency cannot be negative")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or None for 'until cleared'")


@dataclass
class _Armed:
    endpoint: str
    fault: Fault
    remaining: int | None


class Faults:
    """The faults armed on one emulator; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def add(self, endpoint: FaultEndpoint, fault: Fault) -> None:
        """Arm a fault on an endpoint.

        Args:
            endpoint: Where it applies (see the module docstring).
            fault: The fault.

        Raises:
            ValueError: For an unknown endpoint, or ``no_refresh_token`` on an endpoint
                that never returns tokens.
        """
        if endpoint not in get_args(FaultEndpoint):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if fault.kind == "no_refresh_token" and endpoint not in _TOKEN_ENDPOINTS:
            raise ValueError("no_refresh_token applies only to token endpoints")
        if fault.kind == "unauthorised_site" and endpoint != "accessible_resources":
            raise ValueError("unauthorised_site applies only to accessible_resources")
        with self._lock:
            self._armed.append(_Armed(endpoint, fault, fault.times))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def armed(self) -> list[tuple[str, Fault]]:
        """Return the faults still armed as ``(endpoint, fault)`` pairs, oldest first."""
        with self._lock:
            return [(armed.endpoint, armed.fault) for armed in self._armed]

    def take(self, endpoints: tuple[str, ...], kinds: frozenset[str]) -> list[Fault]:
        """Consume one use of every armed fault of ``kinds`` on any of ``endpoints``.

        Args:
            endpoints: The names the current call answers to.
            kinds: The fault kinds the caller is about to apply.

        Returns:
            The faults that apply to this call, oldest first.
        """
        taken: list[Fault] = []
        with self._lock:
            for armed in self._armed:
                if armed.endpoint in endpoints and armed.fault.kind in kinds:
                    taken.append(armed.fault)
                    if armed.remaining is not None:
                        armed.remaining -= 1
            self._armed = [armed for armed in self._armed if armed.remaining != 0]
        return taken


def near_limit(fault: Fault) -> bool:
    """Whether Atlassian sends ``X-RateLimit-NearLimit: true`` with this rate limit.

    Atlassian's cost-based (quota) limits send it; its burst and per-issue limits do not
    (https://jira.atlassian.com/browse/JRACLOUD-83791).
    """
    return fault.reason in _QUOTA_REASONS
