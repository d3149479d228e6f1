"""``POST /oauth/token``: the code exchange and refresh-token rotation.

Clients authenticate in the body only (``client_secret_post``); a missing or wrong
secret answers ``401 {"error": "access_denied", "error_description": "Unauthorized"}``,
as Atlassian does, PKCE or not. JSON and form-encoded bodies are both accepted.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kavach_fastapi.emulator.context import EmulatorContext
from kavach_fastapi.emulator.grants import OAuthError
from kavach_fastapi.emulator.web import (
    NO_STORE,
    BodyError,
    apply_faults,
    oauth_error,
    read_fields,
    record,
)

__all__ = ["token_routes"]

_GRANT_ENDPOINTS = {"authorization_code": "authorization_code", "refresh_token": "refresh"}


def token_routes(context: EmulatorContext) -> list[Route]:
    """Return the token endpoint's route, bound to one emulator's context."""

    def omit_refresh_token(endpoint: str) -> bool:
        return bool(context.faults.take(("token", endpoint), frozenset({"no_refresh_token"})))

    async def token(request: Request) -> Response:
        try:
            fields = await read_fields(request)
        except BodyError as exc:
            record(context.state, ("token",), request)
            return oauth_error(400, "invalid_request", str(exc))
        grant_type = fields.get("grant_type", "")
        endpoint = _GRANT_ENDPOINTS.get(grant_type)
        endpoints = ("token",) if endpoint is None else ("token", endpoint)
        record(context.state, endpoints, request, fields)
        faulted = await apply_faults(context.faults, endpoints, "oauth", context.clock)
        if faulted is not None:
            return faulted
        client = context.clients.get(fields.get("client_id", ""))
        secret = fields.get("client_secret", "")
        if client is None or not hmac.compare_digest(
            secret.encode("utf-8"), client.client_secret.encode("utf-8")
        ):
            return oauth_error(401, "access_denied", "Unauthorized")
        try:
            if endpoint == "authorization_code":
                issued = context.grants.exchange_code(
                    client.client_id,
                    fields.get("code", ""),
                    fields.get("redirect_uri"),
                    fields.get("code_verifier"),
                    omit_refresh_token=lambda: omit_refresh_token("authorization_code"),
                )
            elif endpoint == "refresh":
                issued = context.grants.refresh(
                    client.client_id,
                    fields.get("refresh_token", ""),
                    omit_refresh_token=lambda: omit_refresh_token("refresh"),
                )
            else:
                return oauth_error(
                    400,
                    "unsupported_grant_type",
                    f"Unsupported grant type: {grant_type or '(none)'}",
                )
        except OAuthError as exc:
            return oauth_error(exc.status, exc.error, exc.description)
        return JSONResponse(issued.as_json(), headers=NO_STORE)

    return [Route("/oauth/token", token, methods=["POST"], name="token")]
