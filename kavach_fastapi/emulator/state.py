"""The emulator's memory: pending consents, grants, codes, tokens and call records.

Everything lives in one `EmulatorState` per emulator, guarded by a lock because
`AtlassianEmulator.serve` answers requests on a background thread while the test
reads counters and moves the clock on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import get_args

from kavach_fastapi.emulator.faults import FaultEndpoint

__all__ = [
    "ENDPOINTS",
    "AccessToken",
    "AuthorizationCode",
    "CallCounter",
    "EmulatorState",
    "Grant",
    "PendingConsent",
    "RecordedRequest",
    "RefreshToken",
]

ENDPOINTS = ("authorize", "decision", *get_args(FaultEndpoint))
"""The names calls are counted and recorded under."""


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the emulator saw it.

    Attributes:
        method: The HTTP method.
        path: The URL path.
        query: The query parameters (the last value wins when one repeats).
        headers: The headers, with lower-case names.
        form: The body's fields, whether it was JSON or form-encoded (empty for none).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class PendingConsent:
    """An authorize request waiting on the consent page for Accept or Decline."""

    id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    created_at: datetime


@dataclass
class Grant:
    """What one person allowed one app: the scopes and the sites of every consent so far.

    ``unauthorised_sites`` maps the cloud ids of sites that ``accessible-resources`` listed
    although the person never authorised them (the ``unauthorised_site`` fault) to the status
    their product APIs answer.
    """

    id: str
    client_id: str
    account_id: str
    scopes: tuple[str, ...]
    site_ids: list[str]
    created_at: datetime
    revoked: bool = False
    unauthorised_sites: dict[str, int] = field(default_factory=dict)


@dataclass
class AuthorizationCode:
    """A code handed to the app's callback, exchangeable once."""

    code: str
    grant_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    created_at: datetime
    used: bool = False


@dataclass
class AccessToken:
    """An access token; ``family`` is the code its chain of tokens descends from.

    ``expires_at`` moves earlier when a refresh gives the token its grace period.
    """

    token: str
    grant_id: str
    family: str
    scopes: tuple[str, ...]
    expires_at: datetime
    revoked: bool = False


@dataclass
class RefreshToken:
    """A refresh token; ``retired_at`` is set once it has been rotated away.

    ``last_used_at`` is set when the token was used without being rotated (an answer that
    carried no new refresh token), which restarts its inactivity period.
    """

    token: str
    grant_id: str
    family: str
    scopes: tuple[str, ...]
    issued_at: datetime
    access_token: str
    last_used_at: datetime | None = None
    retired_at: datetime | None = None
    revoked: bool = False


class CallCounter(Mapping[str, int]):
    """How many times each endpoint was called; read it like a dict.

    Keys are the names in `ENDPOINTS`. ``"token"`` counts every token call, while
    ``"authorization_code"`` and ``"refresh"`` count token calls by grant type.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(ENDPOINTS, 0)

    def __getitem__(self, endpoint: str) -> int:
        with self._lock:
            return self._counts[endpoint]

    def __iter__(self) -> Iterator[str]:
        return iter(ENDPOINTS)

    def __len__(self) -> int:
        return len(ENDPOINTS)

    def __repr__(self) -> str:
        with self._lock:
            return f"CallCounter({self._counts!r})"

    def increment(self, endpoint: str) -> None:
        """Count one call of ``endpoint``."""
        with self._lock:
            self._counts[endpoint] += 1

    def reset(self) -> None:
        """Set every count back to zero."""
        with self._lock:
            self._counts = dict.fromkeys(ENDPOINTS, 0)


@dataclass
class EmulatorState:
    """All mutable state of one emulator. Hold ``lock`` while reading or changing it."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    pending: dict[str, PendingConsent] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    calls: CallCounter = field(default_factory=CallCounter)
    last_request: dict[str, RecordedRequest] = field(default_factory=dict)
    site_calls: dict[str, int] = field(default_factory=dict)
    """Calls of the product APIs (``/ex/{product}/{cloudid}/...``) by cloud id."""

    def record(self, endpoint: str, request: RecordedRequest) -> None:
        """Count a call and remember it as the endpoint's last request (thread-safe)."""
        self.calls.increment(endpoint)
        with self.lock:
            self.last_request[endpoint] = request

    def record_site_call(self, cloud_id: str) -> None:
        """Count a product-API call on one site (thread-safe)."""
        with self.lock:
            self.site_calls[cloud_id] = self.site_calls.get(cloud_id, 0) + 1
