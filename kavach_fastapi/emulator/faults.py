"""Fault injection: make an endpoint slow, failing, rate limited or subtly wrong.

Faults are checked, in the order they were added, before an endpoint does its normal
work. ``latency`` waits and lets the call continue; ``status``, ``rate_limit`` and
``malformed_json`` answer at once; ``no_refresh_token`` lets the token call succeed but
leaves ``refresh_token`` out of the answer (and keeps the presented refresh token alive,
as Atlassian does when it answers that way).

Endpoints: ``"token"`` (every ``POST /oauth/token``), ``"authorization_code"`` and
``"refresh"`` (token calls of that grant type), ``"me"``, ``"accessible_resources"`` and
``"jira_myself"``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["Fault", "FaultEndpoint", "FaultKind", "Faults"]

FaultKind = Literal["latency", "status", "rate_limit", "malformed_json", "no_refresh_token"]
FaultEndpoint = Literal[
    "token", "authorization_code", "refresh", "me", "accessible_resources", "jira_myself"
]

_TOKEN_ENDPOINTS = frozenset({"token", "authorization_code", "refresh"})


@dataclass
class Fault:
    """One injected fault.

    Attributes:
        kind: What goes wrong: ``"latency"``, ``"status"``, ``"rate_limit"``,
            ``"malformed_json"`` or ``"no_refresh_token"``.
        seconds: How long a ``latency`` fault waits.
        status: The HTTP status a ``status`` fault answers (400-599).
        retry_after: Seconds sent in ``Retry-After``; ``rate_limit`` defaults to 1, and a
            ``status`` fault sends the header only when this is set.
        times: How many matching calls the fault applies to; ``None`` applies it until
            :meth:`Faults.clear`.

    Example:
        >>> Fault("rate_limit", retry_after=3, times=1)
        Fault(kind='rate_limit', seconds=0.0, status=429, retry_after=3, times=1)
    """

    kind: FaultKind
    seconds: float = 0.0
    status: int = 500
    retry_after: int | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind == "rate_limit":
            self.status = 429
            if self.retry_after is None:
                self.retry_after = 1
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
