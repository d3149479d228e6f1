"""``GET /authorize`` and ``POST /authorize/decision``: the browser half of the flow.

A request that cannot be trusted (unknown app, unregistered ``redirect_uri``, bad
parameters) is answered with Atlassian's own error page, never a redirect: the app never
hears of it. A valid request shows the consent page; its form carries only the id of the
pending consent kept on the server, so the parameters cannot be tampered with.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from kavach_fastapi.emulator.avatars import site_avatar_url, user_avatar_url
from kavach_fastapi.emulator.consent import (
    ConsentAccount,
    ConsentSite,
    render_consent_page,
    render_error_page,
)
from kavach_fastapi.emulator.state import PendingConsent
from kavach_fastapi.emulator.web import base_url, record, with_query

if TYPE_CHECKING:
    from kavach_fastapi.emulator.emulator import AtlassianEmulator

__all__ = ["AuthorizeError", "authorize_routes", "validate_authorize"]

AUDIENCE = "api.atlassian.com"

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class AuthorizeError(Exception):
    """An authorize request the emulator refuses with its error page.

    Attributes:
        message: What the error page says.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def error_page(title: str, message: str) -> HTMLResponse:
    """Return Atlassian's error page with status 400."""
    return HTMLResponse(render_error_page(title, message), status_code=400, headers=_PAGE_HEADERS)


def validate_authorize(emulator: AtlassianEmulator, query: dict[str, str]) -> PendingConsent:
    """Check an authorize request and return the consent it asks for (not yet stored).

    Raises:
        AuthorizeError: When the request must be refused with the error page.
    """
    client = emulator.clients.get(query.get("client_id", ""))
    if client is None:
        raise AuthorizeError("The app you are trying to use is not registered (unknown client_id).")
    redirect_uri = query.get("redirect_uri")
    if not redirect_uri:
        raise AuthorizeError("The request has no redirect_uri.")
    if redirect_uri not in client.redirect_uris:
        raise AuthorizeError(
            f"The redirect_uri {redirect_uri} does not match any callback URL registered"
            f" for {client.name}."
        )
    if query.get("response_type") != "code":
        raise AuthorizeError("response_type must be 'code'.")
    if query.get("audience") != AUDIENCE:
        raise AuthorizeError(f"audience must be '{AUDIENCE}'.")
    scopes = tuple(dict.fromkeys(query.get("scope", "").split()))
    if not scopes:
        raise AuthorizeError("The request has no scope.")
    if client.scopes is not None:
        missing = [scope for scope in scopes if scope not in client.scopes]
        if missing:
            raise AuthorizeError(
                f"{client.name} is not configured for the scope(s): {' '.join(missing)}."
            )
    code_challenge = query.get("code_challenge") or None
    method = query.get("code_challenge_method")
    if code_challenge is None and method:
        raise AuthorizeError("code_challenge_method was sent without a code_challenge.")
    if code_challenge is not None and method != "S256":
        raise AuthorizeError("Only the S256 code_challenge_method is supported.")
    return PendingConsent(
        id=secrets.token_urlsafe(24),
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=query.get("state"),
        code_challenge=code_challenge,
        created_at=emulator.clock.now(),
    )


def _callback(pending: PendingConsent, params: dict[str, str]) -> RedirectResponse:
    if pending.state is not None:
        params = {**params, "state": pending.state}
    return RedirectResponse(with_query(pending.redirect_uri, params), status_code=302)


def authorize_routes(emulator: AtlassianEmulator) -> list[Route]:
    """Return the routes of the consent flow, bound to one emulator."""

    async def authorize(request: Request) -> Response:
        record(emulator.state, ("authorize",), request)
        try:
            pending = validate_authorize(emulator, dict(request.query_params))
        except AuthorizeError as exc:
            return error_page("Something went wrong", exc.message)
        if emulator.auto_consent:
            if not emulator.users:
                return error_page("Something went wrong", "There is no account to sign in as.")
            code = emulator.grants.consent(
                pending, emulator.users[0].account_id, [site.id for site in emulator.sites]
            )
            return _callback(pending, {"code": code})
        with emulator.state.lock:
            emulator.state.pending[pending.id] = pending
        base = base_url(request)
        client = emulator.clients[pending.client_id]
        page = render_consent_page(
            app_name=client.name,
            scopes=pending.scopes,
            accounts=[
                ConsentAccount(
                    account_id=user.account_id,
                    name=user.name,
                    email=user.email,
                    avatar_url=user_avatar_url(user, base),
                )
                for user in emulator.users
            ],
            sites=[
                ConsentSite(
                    id=site.id,
                    name=site.name,
                    url=site.url,
                    avatar_url=site_avatar_url(site, base),
                )
                for site in emulator.sites
            ],
            consent_id=pending.id,
            action_url=f"{base}/authorize/decision",
        )
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    async def decision(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        pairs = parse_qsl(body, keep_blank_values=True)
        fields = dict(pairs)
        record(emulator.state, ("decision",), request, fields)
        with emulator.state.lock:
            pending = emulator.state.pending.pop(fields.get("consent_id", ""), None)
        if pending is None or (
            emulator.clock.now() >= pending.created_at + emulator.lifetimes.pending_consent
        ):
            return error_page(
                "This request has expired",
                "This consent request has expired or was already answered. Go back to the app"
                " and sign in again.",
            )
        choice = fields.get("decision")
        if choice == "decline":
            return _callback(
                pending,
                {
                    "error": "access_denied",
                    "error_description": "The user declined the consent request.",
                },
            )
        if choice != "accept":
            return error_page("Something went wrong", "Choose Accept or Decline.")
        account_id = fields.get("account_id", "")
        if all(user.account_id != account_id for user in emulator.users):
            return error_page("Something went wrong", "Choose an account to sign in as.")
        known_sites = {site.id for site in emulator.sites}
        site_ids = list(dict.fromkeys(value for name, value in pairs if name == "site_id"))
        if any(site_id not in known_sites for site_id in site_ids):
            return error_page("Something went wrong", "One of the chosen sites does not exist.")
        code = emulator.grants.consent(pending, account_id, site_ids)
        return _callback(pending, {"code": code})

    return [
        Route("/authorize", authorize, methods=["GET"], name="authorize"),
        Route("/authorize/decision", decision, methods=["POST"], name="authorize_decision"),
    ]
