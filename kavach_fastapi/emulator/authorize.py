"""``GET /authorize`` and ``POST /authorize/decision``: the browser half of the flow.

A request that cannot be trusted (unknown app, unregistered ``redirect_uri``, bad
parameters) is answered with Atlassian's own error page, never a redirect: the app never
hears of it. A valid request shows the consent page; its form carries only the id of the
pending consent kept on the server, so the parameters cannot be tampered with.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
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
from kavach_fastapi.emulator.context import EmulatorContext
from kavach_fastapi.emulator.state import PendingConsent
from kavach_fastapi.emulator.web import base_url, record, with_query

__all__ = [
    "AuthorizeError",
    "authorize_routes",
    "callback_url",
    "decide",
    "grant_at_once",
    "take_pending",
    "validate_authorize",
]

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


def validate_authorize(context: EmulatorContext, query: dict[str, str]) -> PendingConsent:
    """Check an authorize request and return the consent it asks for (not yet stored).

    Raises:
        AuthorizeError: When the request must be refused with the error page.
    """
    client = context.clients.get(query.get("client_id", ""))
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
        created_at=context.clock.now(),
    )


_EXPIRED = (
    "This consent request has expired or was already answered. Go back to the app and sign in"
    " again."
)


def callback_url(pending: PendingConsent, params: dict[str, str]) -> str:
    """Return the app's callback URL with ``params`` and the request's ``state``."""
    if pending.state is not None:
        params = {**params, "state": pending.state}
    return with_query(pending.redirect_uri, params)


def grant_at_once(context: EmulatorContext, pending: PendingConsent) -> dict[str, str]:
    """Consent as the first person with every site, as ``auto_consent`` does.

    Returns:
        The callback's parameters: ``{"code": ...}``.

    Raises:
        AuthorizeError: When there is nobody to sign in as.
    """
    if not context.users:
        raise AuthorizeError("There is no account to sign in as.")
    code = context.grants.consent(
        pending, context.users[0].account_id, [site.id for site in context.sites]
    )
    return {"code": code}


def take_pending(context: EmulatorContext, consent_id: str) -> PendingConsent:
    """Remove and return a pending consent, which is answered once only.

    Raises:
        AuthorizeError: When it is unknown, already answered or expired.
    """
    with context.state.lock:
        pending = context.state.pending.pop(consent_id, None)
    if pending is None or (
        context.clock.now() >= pending.created_at + context.lifetimes.pending_consent
    ):
        raise AuthorizeError(_EXPIRED)
    return pending


def decide(
    context: EmulatorContext,
    pending: PendingConsent,
    choice: str | None,
    account_id: str = "",
    site_ids: Sequence[str] = (),
) -> dict[str, str]:
    """Answer a consent with Accept or Decline.

    Args:
        context: The emulator's context.
        pending: The consent being answered.
        choice: ``"accept"`` or ``"decline"``.
        account_id: Who accepts.
        site_ids: The sites granted.

    Returns:
        The callback's parameters: ``code`` on Accept, ``error`` and ``error_description``
        on Decline.

    Raises:
        AuthorizeError: For another choice, an unknown account or an unknown site.
    """
    if choice == "decline":
        return {
            "error": "access_denied",
            "error_description": "The user declined the consent request.",
        }
    if choice != "accept":
        raise AuthorizeError("Choose Accept or Decline.")
    if context.user(account_id) is None:
        raise AuthorizeError("Choose an account to sign in as.")
    chosen = list(dict.fromkeys(site_ids))
    if any(context.site(site_id) is None for site_id in chosen):
        raise AuthorizeError("One of the chosen sites does not exist.")
    return {"code": context.grants.consent(pending, account_id, chosen)}


def authorize_routes(context: EmulatorContext) -> list[Route]:
    """Return the routes of the consent flow, bound to one emulator's context."""

    async def authorize(request: Request) -> Response:
        record(context.state, ("authorize",), request)
        try:
            pending = validate_authorize(context, dict(request.query_params))
            if context.auto_consent:
                return _redirect(callback_url(pending, grant_at_once(context, pending)))
        except AuthorizeError as exc:
            return error_page("Something went wrong", exc.message)
        with context.state.lock:
            context.state.pending[pending.id] = pending
        base = base_url(request)
        client = context.clients[pending.client_id]
        page = render_consent_page(
            app_name=client.name,
            scopes=pending.scopes,
            accounts=[
                ConsentAccount(u.account_id, u.name, u.email, user_avatar_url(u, base))
                for u in context.users
            ],
            sites=[
                ConsentSite(s.id, s.name, s.url, site_avatar_url(s, base)) for s in context.sites
            ],
            consent_id=pending.id,
            action_url=f"{base}/authorize/decision",
        )
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    async def decision(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        pairs = parse_qsl(body, keep_blank_values=True)
        fields = dict(pairs)
        record(context.state, ("decision",), request, fields)
        try:
            pending = take_pending(context, fields.get("consent_id", ""))
        except AuthorizeError as exc:
            return error_page("This request has expired", exc.message)
        try:
            params = decide(
                context,
                pending,
                fields.get("decision"),
                fields.get("account_id", ""),
                [value for name, value in pairs if name == "site_id"],
            )
        except AuthorizeError as exc:
            return error_page("Something went wrong", exc.message)
        return _redirect(callback_url(pending, params))

    return [
        Route("/authorize", authorize, methods=["GET"], name="authorize"),
        Route("/authorize/decision", decision, methods=["POST"], name="authorize_decision"),
    ]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=302)
