"""HTTP helpers shared by the emulator's endpoints: bodies, records, faults, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from http import HTTPStatus
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kavach_fastapi.emulator.clock import EmulatorClock
from kavach_fastapi.emulator.faults import Fault, Faults, near_limit
from kavach_fastapi.emulator.state import EmulatorState, RecordedRequest

__all__ = [
    "NO_STORE",
    "ErrorStyle",
    "api_error",
    "apply_faults",
    "base_url",
    "bearer_token",
    "oauth_error",
    "rate_limit_headers",
    "read_fields",
    "record",
    "with_query",
]

ErrorStyle = Literal["oauth", "api"]
"""``oauth`` errors look like ``{"error", "error_description"}`` (auth.atlassian.com);
``api`` errors like ``{"code", "message"}`` (api.atlassian.com)."""

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_PRE_HANDLING = frozenset({"latency", "status", "rate_limit", "malformed_json"})
"""The fault kinds that answer (or delay) a call before its normal work."""


class BodyError(ValueError):
    """The request body could not be read as JSON or form fields."""


def base_url(request: Request) -> str:
    """Return the base URL the request reached the emulator at, without a trailing slash.

    Mounted inside another app (the demo serves it at ``/_emulator``), the mount path is part
    of the base: it is the ``root_path`` of the emulator's own scope.
    """
    root_path = str(request.scope.get("root_path", ""))
    return f"{request.url.scheme}://{request.url.netloc}{root_path}".rstrip("/")


def with_query(url: str, params: dict[str, str]) -> str:
    """Append query parameters to a URL that may already have some."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


async def read_fields(request: Request) -> dict[str, str]:
    """Read a JSON object or a form-encoded body as a flat dict of strings.

    Raises:
        BodyError: For a body that is neither.
    """
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body:
        return {}
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BodyError("The body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise BodyError("The body must be a JSON object")
        return {
            str(key): value if isinstance(value, str) else json.dumps(value)
            for key, value in data.items()
        }
    if content_type in ("", "application/x-www-form-urlencoded"):
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise BodyError("The body is not valid UTF-8") from exc
    raise BodyError(f"Unsupported content type {content_type}")


def record(
    state: EmulatorState,
    endpoints: Sequence[str],
    request: Request,
    form: dict[str, str] | None = None,
) -> None:
    """Count the call under each endpoint name and remember it as their last request."""
    recorded = RecordedRequest(
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers={name.lower(): value for name, value in request.headers.items()},
        form=dict(form or {}),
    )
    for endpoint in endpoints:
        state.record(endpoint, recorded)


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """Answer like auth.atlassian.com: ``{"error": ..., "error_description": ...}``."""
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=NO_STORE
    )


def api_error(status: int, message: str) -> JSONResponse:
    """Answer like api.atlassian.com: ``{"code": ..., "message": ...}``."""
    return JSONResponse({"code": status, "message": message}, status_code=status)


def bearer_token(request: Request) -> str | None:
    """Return the Bearer token of the ``Authorization`` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def apply_faults(
    faults: Faults,
    endpoints: tuple[str, ...],
    style: ErrorStyle,
    clock: EmulatorClock,
) -> Response | None:
    """Apply the faults armed on ``endpoints`` before the endpoint's normal work.

    Returns:
        The response a fault answers with, or ``None`` to carry on normally.
    """
    for fault in faults.take(endpoints, _PRE_HANDLING):
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
            continue
        return _fault_response(fault, style, clock)
    return None


def rate_limit_headers(fault: Fault, clock: EmulatorClock) -> dict[str, str]:
    """Atlassian's headers of a ``429``, apart from ``Retry-After``.

    ``X-RateLimit-Reset`` is the request's time plus ``Retry-After``, written
    ``yyyy-MM-ddTHH:mmZ`` as Atlassian documents it.
    """
    reset = clock.now() + timedelta(seconds=fault.retry_after or 0)
    headers = {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
        "RateLimit-Reason": fault.reason,
    }
    if near_limit(fault):
        headers["X-RateLimit-NearLimit"] = "true"
    return headers


def _fault_response(fault: Fault, style: ErrorStyle, clock: EmulatorClock) -> Response:
    if fault.kind == "malformed_json":
        # A body cut short, as a proxy or a dropped connection might leave it.
        return Response(b'{"access_token": "eyJ', media_type="application/json", status_code=200)
    status = fault.status
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if fault.kind == "rate_limit":
        headers.update(rate_limit_headers(fault, clock))
    if style == "oauth":
        error = "temporarily_unavailable" if status in (429, 503) else "server_error"
        if status < 500 and status != 429:
            error = "invalid_request"
        return JSONResponse(
            {"error": error, "error_description": phrase},
            status_code=status,
            headers={**NO_STORE, **headers},
        )
    return JSONResponse({"code": status, "message": phrase}, status_code=status, headers=headers)
