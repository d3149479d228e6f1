"""Cookies and the session token a request carries.

Over https the cookies are ``Secure`` and use the ``__Host-`` prefix, which browsers only accept
from a secure origin with ``Path=/`` and no ``Domain``: no sibling subdomain can plant or
overwrite them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

SESSION_COOKIE = "kavach_session"
BINDING_COOKIE = "kavach_signin"
SECURE_PREFIX = "__Host-"


@dataclass(frozen=True)
class CookiePolicy:
    """How this request's cookies are named and flagged (see the module's docstring)."""

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


_SECURE, _PLAIN = CookiePolicy(secure=True), CookiePolicy(secure=False)


def cookie_policy(request: Request, base_url: str | None) -> CookiePolicy:
    """Secure cookies when the public URL (configured, else the request's) is https."""
    scheme = base_url.split(":", 1)[0] if base_url else request.scope.get("scheme", "http")
    return _SECURE if scheme == "https" else _PLAIN


def session_token(request: Request, base_url: str | None) -> str | None:
    """The session token of a request: ``Authorization: Bearer`` first, else the cookie.

    Every request behind a session dependency asks this, so the header is found in the raw
    ASGI list (names are lower case there) rather than through Starlette's ``Headers``.
    """
    name: bytes
    value: bytes
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            credentials = credentials.strip()
            if credentials and scheme.lower() == b"bearer":
                return credentials.decode("latin-1")
            break
    return request.cookies.get(cookie_policy(request, base_url).name(SESSION_COOKIE))
