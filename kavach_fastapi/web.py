"""The HTTP edge: cookies, bearer tokens, origins and error answers.

Only the router and the dependencies use this module; nothing below them sees a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.routing import NoMatchFound

from .errors import KavachError, ReauthRequiredError
from .models import ErrorBody, ErrorDetail
from .redirects import origin_of

SESSION_COOKIE = "kavach_session"
BINDING_COOKIE = "kavach_signin"
SECURE_PREFIX = "__Host-"

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PRIVATE_HEADERS = {**NO_STORE, "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class CookiePolicy:
    """How this request's cookies are named and flagged.

    Over https the cookies are ``Secure`` and use the ``__Host-`` prefix, which browsers only
    accept from a secure origin with ``Path=/`` and no ``Domain``: no sibling subdomain can
    plant or overwrite them.
    """

    secure: bool

    def name(self, base: str) -> str:
        """The cookie name for this scheme."""
        return f"{SECURE_PREFIX}{base}" if self.secure else base

    def set(self, response: Response, base: str, value: str, *, max_age: int) -> None:
        """Set an HttpOnly, SameSite=Lax, Path=/ cookie."""
        response.set_cookie(
            self.name(base),
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response, base: str) -> None:
        """Expire a cookie in the browser."""
        response.delete_cookie(
            self.name(base), path="/", secure=self.secure, httponly=True, samesite="lax"
        )


def cookie_policy(request: Request, base_url: str | None) -> CookiePolicy:
    """Secure cookies when the public URL (configured, else the request's) is https."""
    scheme = base_url.split(":", 1)[0] if base_url else request.scope.get("scheme", "http")
    return CookiePolicy(secure=scheme == "https")


def mount_url(request: Request, route_suffix: str, base_url: str | None) -> str:
    """The public URL of the router's mount point.

    ``KAVACH_BASE_URL`` when set (behind a proxy the request's own host cannot be trusted);
    otherwise the request URL without the route's own path.
    """
    if base_url:
        return base_url
    # Not request.url: it decodes the query string, which a client may fill with any bytes.
    origin = request.base_url
    path = str(request.scope["path"])
    prefix = path[: -len(route_suffix)] if path.endswith(route_suffix) else path
    return f"{origin.scheme}://{origin.netloc}{prefix.rstrip('/')}"


def reauth_url(request: Request, base_url: str | None, provider: str = "atlassian") -> str | None:
    """Where to send the browser to consent again: the authorize endpoint.

    Built from ``KAVACH_BASE_URL`` when set, so a forged ``Host`` cannot move it.
    """
    if base_url:
        return f"{base_url}/auth/oauth/authorize/{provider}"
    try:
        return str(request.url_for("kavach_authorize", provider=provider))
    except NoMatchFound:
        return None


def session_token(request: Request, policy: CookiePolicy) -> str | None:
    """The session token of a request: ``Authorization: Bearer`` first, else the cookie."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return request.cookies.get(policy.name(SESSION_COOKIE))


def client_address(request: Request) -> str | None:
    """The client's address as the ASGI server reports it (proxies are the server's business).

    ``None`` when the server reports none (``uvicorn --uds``): never a placeholder that would
    lump every such client together.
    """
    return request.client.host if request.client else None


def wants_json(request: Request) -> bool:
    """Whether the client asked for JSON rather than a page."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_cross_site(request: Request, own_origin: str | None, csrf_trusted: Iterable[str]) -> bool:
    """Whether a state-changing request comes from another site.

    Browsers tell with ``Sec-Fetch-Site`` and ``Origin``. A request with neither is not from a
    browser page (an API client with a bearer token, curl) and is allowed.

    Args:
        request: the request.
        own_origin: this site's URL (its origin is what counts).
        csrf_trusted: ``KAVACH_CSRF_TRUSTED_ORIGINS``, the only other origins allowed. Never
            pass the redirect targets (``KAVACH_TRUSTED_ORIGINS``): that a page may be landed
            on does not mean it may sign people out.
    """
    allowed = {origin_of(o) for o in csrf_trusted}
    if own_origin:
        allowed.add(origin_of(own_origin))
    origin = request.headers.get("origin")
    if origin is not None:
        return origin_of(origin) not in allowed
    fetch_site = request.headers.get("sec-fetch-site")
    return fetch_site not in (None, "same-origin", "none")


def error_response(exc: KavachError) -> JSONResponse:
    """The JSON answer for an error: ``{"error": {"code", "message"}}``, never cached."""
    headers = dict(NO_STORE)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kavach"'
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    reauth_url = exc.reauth_url if isinstance(exc, ReauthRequiredError) else None
    body = ErrorBody(
        error=ErrorDetail(code=exc.code.value, message=exc.message, reauth_url=reauth_url)
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=exc.status_code, headers=headers
    )


async def kavach_error_handler(request: Request, exc: Exception) -> Response:
    """Exception handler the router installs on the app for errors raised in dependencies."""
    if not isinstance(exc, KavachError):  # pragma: no cover - registered for KavachError only
        raise exc
    return error_response(exc)
