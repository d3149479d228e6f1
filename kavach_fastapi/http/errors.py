"""Errors at the HTTP edge: the one JSON shape, its headers, and the OpenAPI that lists them.

Every error answer is ``{"error": {"code": "...", "message": "..."}}`` with the status of its code
([`ErrorCode`][kavach_fastapi.ErrorCode]), never cached; ``401`` carries ``WWW-Authenticate``,
failures that pass with time ``Retry-After``, and ``reauth_required`` the ``reauth_url`` that the
edge adds when it renders the error (the exception itself is never changed on its way).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ..codes import ErrorCode
from ..errors import KavachError
from ..models import ErrorBody, ErrorDetail

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PRIVATE_HEADERS = {**NO_STORE, "Referrer-Policy": "no-referrer"}
"""Headers of every answer of the router: about a person, so never cached nor referred."""


def error_response(exc: KavachError, *, reauth_url: str | None = None) -> JSONResponse:
    """The JSON answer for an error: ``{"error": {"code", "message"}}``, never cached.

    Args:
        exc: the error.
        reauth_url: for ``reauth_required``, where to consent again (the exception's own
            ``reauth_url`` wins when it has one).
    """
    headers = dict(NO_STORE)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kavach"'
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    where = getattr(exc, "reauth_url", None) or reauth_url
    detail = ErrorDetail(
        code=exc.code.value,
        message=exc.message,
        reauth_url=where if exc.code is ErrorCode.REAUTH_REQUIRED else None,
    )
    return JSONResponse(
        ErrorBody(error=detail).model_dump(exclude_none=True),
        status_code=exc.status_code,
        headers=headers,
    )


def error_responses(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses=`` of a route that can answer these codes, grouped by status."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        by_status.setdefault(code.status, []).append(code)
    return {
        status: {
            "model": ErrorBody,
            "description": "Error codes: " + ", ".join(f"`{c.value}`" for c in listed) + ".",
        }
        for status, listed in sorted(by_status.items())
    }
