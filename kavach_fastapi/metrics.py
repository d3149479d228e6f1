"""Counters and histograms through OpenTelemetry when it is installed, and nothing otherwise.

Install the extra (``pip install "kavach-fastapi[otel]"``) and configure a ``MeterProvider`` the
usual OpenTelemetry way; the package's instruments come from the global provider under the meter
name `METER_NAME`. Without ``opentelemetry-api`` every ``record_*`` function returns at once:
the import is tried once, on the first record, never when the package is imported.

Every attribute value is taken from a closed vocabulary (the ``*_VALUES`` sets below, the error
codes, small integers), anything else becomes ``"other"``: no metric can carry a token, an email,
a name or an account id, whatever a caller passes. The metrics page documents `INSTRUMENTS`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

from ._version import __version__
from .codes import ErrorCode

__all__ = [
    "INSTRUMENTS",
    "METER_NAME",
    "enabled",
    "record_api_call",
    "record_privacy_report",
    "record_quota_block",
    "record_quota_refusal",
    "record_quota_warning",
    "record_rate_limited",
    "record_reconsent_required",
    "record_refresh",
    "record_sign_in",
    "use_meter_provider",
]

METER_NAME = "kavach_fastapi"
"""The OpenTelemetry meter (instrumentation scope) of every instrument."""

OTHER = "other"
"""What an attribute value outside its vocabulary is recorded as."""

SIGN_IN_OUTCOMES = frozenset({"success", "failure"})
REFRESH_OUTCOMES = frozenset({"success", "reauth_required", "unavailable", "failure"})
RECONSENT_REASONS = frozenset({"invalid_grant", "no_refresh_token", "undecryptable"})
PRODUCTS = frozenset({"jira", "jira-servicedesk", "confluence"})
RATE_LIMIT_REASONS = frozenset(
    {
        "jira-quota-global-based",
        "jira-quota-tenant-based",
        "jira-burst-based",
        "jira-per-issue-on-write",
        "unknown",
    }
)
"""Atlassian's ``RateLimit-Reason`` values, and ``unknown`` when the header is missing."""
QUOTA_SCOPES = frozenset({"site", "app"})
PRIVACY_STATUSES = frozenset({"reported", "closed", "updated"})
ERROR_CODES = frozenset(code.value for code in ErrorCode)

_PROVIDER = re.compile(r"[a-z][a-z0-9_-]{0,31}")


InstrumentKind = Literal["counter", "histogram"]
"""The OpenTelemetry instruments the package makes: counts, and durations."""


@dataclass(frozen=True)
class Instrument:
    """One instrument as the metrics page documents it."""

    name: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: tuple[str, ...]


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(
        "kavach.sign_ins",
        "counter",
        "{sign_in}",
        "Finished sign-in callbacks, by outcome and, for failures, error code.",
        ("kavach.provider", "kavach.outcome", "kavach.error_code"),
    ),
    Instrument(
        "kavach.token_refreshes",
        "counter",
        "{refresh}",
        "Refreshes of provider tokens this process made (one per grant and expiry, across "
        "workers), by outcome.",
        ("kavach.provider", "kavach.outcome"),
    ),
    Instrument(
        "kavach.reconsents_required",
        "counter",
        "{grant}",
        "Grants found dead, so that the person must consent again, by reason.",
        ("kavach.provider", "kavach.reason"),
    ),
    Instrument(
        "kavach.api_calls",
        "counter",
        "{call}",
        "HTTP tries of product-API calls (each retry counts), by product and status.",
        ("kavach.provider", "kavach.product", "http.response.status_code", "error.type"),
    ),
    Instrument(
        "kavach.api_call.duration",
        "histogram",
        "s",
        "How long each product-API try took, until its whole answer was read.",
        ("kavach.provider", "kavach.product", "http.response.status_code", "error.type"),
    ),
    Instrument(
        "kavach.rate_limited",
        "counter",
        "{response}",
        "429 answers of product APIs, by `RateLimit-Reason`.",
        ("kavach.provider", "kavach.product", "kavach.rate_limit_reason"),
    ),
    Instrument(
        "kavach.quota_blocks",
        "counter",
        "{block}",
        "Quota blocks this process recorded (a site, or the whole app), by reason.",
        ("kavach.provider", "kavach.rate_limit_reason", "kavach.quota_scope"),
    ),
    Instrument(
        "kavach.quota_refusals",
        "counter",
        "{call}",
        "Calls answered `quota_exhausted` without calling the provider, because of a block.",
        ("kavach.provider", "kavach.quota_scope"),
    ),
    Instrument(
        "kavach.quota_warnings",
        "counter",
        "{response}",
        "Answers that said the quota is nearly used up (`X-RateLimit-NearLimit`, or "
        "`X-RateLimit-Remaining` near zero).",
        ("kavach.provider", "kavach.product"),
    ),
    Instrument(
        "kavach.privacy_report.accounts",
        "counter",
        "{account}",
        "Accounts in personal-data reports: `reported` to Atlassian, and those it answered "
        "`closed` or `updated`.",
        ("kavach.privacy_status",),
    ),
    Instrument(
        "kavach.privacy_report.runs",
        "counter",
        "{run}",
        "Personal-data report runs, by outcome.",
        ("kavach.outcome",),
    ),
)
"""Every instrument the package records, as the metrics page lists them."""


def _instruments_of(meter: Any) -> dict[str, Any]:
    """The live instruments of one meter, by name."""
    return {
        spec.name: (meter.create_histogram if spec.kind == "histogram" else meter.create_counter)(
            spec.name, unit=spec.unit, description=spec.description
        )
        for spec in INSTRUMENTS
    }


_lock = threading.Lock()
_instruments: dict[str, Any] | None = None
_resolved = False


def use_meter_provider(provider: Any | None) -> None:
    """Record into ``provider`` (an OpenTelemetry ``MeterProvider``) instead of the global one.

    ``None`` goes back to the global provider, found again on the next record (or to recording
    nothing, when OpenTelemetry cannot be imported). Tests use it with an in-memory reader; an
    app normally sets the global provider and never calls this.
    """
    global _instruments, _resolved  # noqa: PLW0603 - the one switch of a process-wide facility
    with _lock:
        _instruments = None if provider is None else _instruments_of(_meter_of(provider))
        _resolved = provider is not None


def enabled() -> bool:
    """Whether records reach OpenTelemetry (it is importable, or a provider was given)."""
    return _current() is not None


def _meter_of(provider: Any | None) -> Any:
    if provider is not None:
        return provider.get_meter(METER_NAME, __version__)
    from opentelemetry import metrics  # noqa: PLC0415 - optional, imported on first use

    return metrics.get_meter(METER_NAME, __version__)


def _current() -> dict[str, Any] | None:
    global _instruments, _resolved  # noqa: PLW0603 - see use_meter_provider
    if _resolved:
        return _instruments
    with _lock:
        if not _resolved:
            try:
                _instruments = _instruments_of(_meter_of(None))
            except ImportError:
                _instruments = None
            _resolved = True
    return _instruments


def _word(value: object, vocabulary: frozenset[str]) -> str:
    return value if isinstance(value, str) and value in vocabulary else OTHER


def _provider(value: object) -> str:
    return value if isinstance(value, str) and _PROVIDER.fullmatch(value) else OTHER


def _status(value: object) -> int:
    return value if isinstance(value, int) and 100 <= value <= 599 else 0


def _add(name: str, attributes: dict[str, str | int], amount: float = 1) -> None:
    instruments = _current()
    if instruments is not None:
        instruments[name].add(amount, attributes)


def _count(name: str, provider: str, *words: tuple[str, str | None, frozenset[str]]) -> None:
    """Add one to ``name`` for ``provider``, with each ``(attribute, value, vocabulary)``."""
    if _current() is not None:
        attributes: dict[str, str | int] = {"kavach.provider": _provider(provider)}
        for attribute, value, vocabulary in words:
            attributes[attribute] = _word(value, vocabulary)
        _add(name, attributes)


def record_sign_in(provider: str, outcome: str, error_code: str | None = None) -> None:
    """Count a finished sign-in callback (``success`` or ``failure`` with its error code)."""
    words = [("kavach.outcome", outcome, SIGN_IN_OUTCOMES)]
    if error_code is not None:
        words.append(("kavach.error_code", error_code, ERROR_CODES))
    _count("kavach.sign_ins", provider, *words)


def record_refresh(provider: str, outcome: str) -> None:
    """Count one token refresh by its outcome (see `REFRESH_OUTCOMES`)."""
    _count("kavach.token_refreshes", provider, ("kavach.outcome", outcome, REFRESH_OUTCOMES))


def record_reconsent_required(provider: str, reason: str) -> None:
    """Count a grant found dead: its person must consent again (see `RECONSENT_REASONS`)."""
    _count("kavach.reconsents_required", provider, ("kavach.reason", reason, RECONSENT_REASONS))


def record_api_call(
    provider: str, product: str | None, status: int | None, duration: float
) -> None:
    """Count one product-API try and its duration; ``status=None`` means no answer came."""
    instruments = _current()
    if instruments is None:
        return
    attributes: dict[str, str | int] = {
        "kavach.provider": _provider(provider),
        "kavach.product": _word(product, PRODUCTS),
    }
    if status is None:
        attributes["error.type"] = "transport"
    else:
        attributes["http.response.status_code"] = _status(status)
    instruments["kavach.api_calls"].add(1, attributes)
    instruments["kavach.api_call.duration"].record(max(0.0, duration), attributes)


def record_rate_limited(provider: str, product: str | None, reason: str) -> None:
    """Count a ``429`` of a product API by its ``RateLimit-Reason``."""
    _count(
        "kavach.rate_limited",
        provider,
        ("kavach.product", product, PRODUCTS),
        ("kavach.rate_limit_reason", reason, RATE_LIMIT_REASONS),
    )


def record_quota_block(provider: str, reason: str, scope: str) -> None:
    """Count a quota block this process recorded (``scope``: ``site`` or ``app``)."""
    _count(
        "kavach.quota_blocks",
        provider,
        ("kavach.rate_limit_reason", reason, RATE_LIMIT_REASONS),
        ("kavach.quota_scope", scope, QUOTA_SCOPES),
    )


def record_quota_refusal(provider: str, scope: str) -> None:
    """Count a call refused because of a block, without calling the provider."""
    _count("kavach.quota_refusals", provider, ("kavach.quota_scope", scope, QUOTA_SCOPES))


def record_quota_warning(provider: str, product: str | None) -> None:
    """Count an answer that said the quota is nearly used up."""
    _count("kavach.quota_warnings", provider, ("kavach.product", product, PRODUCTS))


def record_privacy_report(
    *, reported: int = 0, closed: int = 0, updated: int = 0, failed: bool = False
) -> None:
    """Count one personal-data report run and the accounts in it.

    Args:
        reported: accounts sent to Atlassian.
        closed: accounts Atlassian answered ``closed`` (their personal data erased).
        updated: accounts Atlassian answered ``updated`` (their profile to be read again).
        failed: the run stopped before reporting everything it should have.
    """
    if _current() is None:
        return
    for status, count in (("reported", reported), ("closed", closed), ("updated", updated)):
        if count > 0:
            _add("kavach.privacy_report.accounts", {"kavach.privacy_status": status}, count)
    _add("kavach.privacy_report.runs", {"kavach.outcome": "failure" if failed else "success"})
