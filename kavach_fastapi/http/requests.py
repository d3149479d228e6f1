"""What a request says about where it comes from: the mount URL, the client, origins.

Nothing below the HTTP edge sees a request; these helpers turn one into plain values.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request
from starlette.routing import NoMatchFound

from ..devices import Device, describe_device
from ..redirects import origin_of


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


def authorize_url(base_url: str, provider: str) -> str:
    """The authorize endpoint of a router mounted at ``base_url`` (``KAVACH_BASE_URL``)."""
    return f"{base_url}/auth/oauth/authorize/{provider}"


def reauth_url(request: Request, base_url: str | None, provider: str) -> str | None:
    """Where to send the browser to consent again: the authorize endpoint.

    Built from ``KAVACH_BASE_URL`` when set, so a forged ``Host`` cannot move it.
    """
    if base_url:
        return authorize_url(base_url, provider)
    try:
        return str(request.url_for("kavach_authorize", provider=provider))
    except NoMatchFound:
        return None


def client_address(request: Request) -> str | None:
    """The client's address as the ASGI server reports it (proxies are the server's business).

    ``None`` when the server reports none (``uvicorn --uds``): never a placeholder that would
    lump every such client together.
    """
    return request.client.host if request.client else None


def client_device(request: Request) -> Device:
    """What a new session records of the client: its trimmed user agent and its network."""
    return describe_device(request.headers.get("user-agent"), client_address(request))


def wants_json(request: Request) -> bool:
    """Whether the client asked for JSON rather than a page."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_navigation(request: Request) -> bool:
    """Whether a browser navigated here (a link or a form), rather than a script's fetch.

    ``Sec-Fetch-Mode: navigate`` says so in every current browser; without it, a page is
    what the browser asked for (``Accept: text/html``), which ``fetch()`` never sends unasked.
    """
    mode = request.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get("accept", "")


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
