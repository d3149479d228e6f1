"""Where a person may be sent after signing in: this site, or an origin the app trusts.

``redirect_to`` comes from a URL anyone can craft, so it is checked strictly and anything
doubtful falls back to the app's landing place (``KAVACH_LANDING_URL``, ``/`` by default): only a plain path on this site (``/dashboard?tab=2``) or an absolute
http(s) URL whose origin is this site's or one in ``KAVACH_TRUSTED_ORIGINS``. Protocol-relative
paths, backslashes, control characters, white space, non-ASCII look-alikes, user-info and
encoded slashes that decode into any of these are all refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .codes import ErrorCode
from .errors import KavachError

MAX_REDIRECT_LENGTH = 2048
"""A longer ``redirect_to`` falls back to the landing place: a sign-in attempt keeps no longer
URL (``tables.MAX_URL_LENGTH`` is this)."""
FALLBACK = "/"
"""Where people land when the app sets no ``KAVACH_LANDING_URL``."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The normalised origin (``scheme://host[:port]``) of an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _is_plain(value: str) -> bool:
    return value.isascii() and value.isprintable() and not any(c.isspace() for c in value)


def _is_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return False
    decoded = value
    for _ in range(3):  # undo double and triple encodings too
        decoded = unquote(decoded)
        # An encoded space is harmless (``?q=a%20b``); encoded control characters and
        # non-ASCII look-alikes of slashes are not.
        if (
            decoded.startswith("//")
            or "\\" in decoded
            or not (decoded.isascii() and decoded.isprintable())
        ):
            return False
    return True


def safe_redirect(
    value: str | None,
    *,
    own_origin: str | None,
    trusted: Iterable[str],
    fallback: str = FALLBACK,
) -> str:
    """Return ``value`` if it is a safe place to land, else ``fallback``.

    Args:
        value: the requested ``redirect_to``.
        own_origin: this site's origin, allowed in absolute form too.
        trusted: further allowed origins, normalised.
        fallback: where to land instead (``KAVACH_LANDING_URL``, itself checked by this rule).
    """
    if not value or len(value) > MAX_REDIRECT_LENGTH or not _is_plain(value) or "\\" in value:
        return fallback
    if value.startswith("/"):
        return value if _is_local_path(value) else fallback
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return fallback
    origin = origin_of(value)
    allowed = {origin_of(o) for o in trusted} | ({origin_of(own_origin)} if own_origin else set())
    if origin is None or origin not in allowed:
        return fallback
    return value


def with_error(target: str, code: str, reason: str | None = None) -> str:
    """``target`` with ``error=code`` (and ``reason=``) in its query, replacing earlier ones."""
    parts = urlsplit(target)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("error", "reason")
    ]
    query.append(("error", code))
    if reason is not None:
        query.append(("reason", reason))
    return urlunsplit(parts._replace(query=urlencode(query)))


def check_storable(*, redirect_uri: str, redirect_to: str) -> None:
    """Refuse, before anything is written, values too long for the attempt to keep.

    The callback URL comes from the request's ``Host`` unless ``KAVACH_BASE_URL`` is set, so
    any client can make it long; ``redirect_to`` is bounded by `safe_redirect` already.

    Raises:
        KavachError: ``invalid_request`` (400), naming what is too long.
    """
    if len(redirect_uri) > MAX_REDIRECT_LENGTH:
        raise KavachError(
            f"This request's address is too long to sign in from: the callback URL would exceed "
            f"{MAX_REDIRECT_LENGTH} characters. Use the app's usual address, or set KAVACH_BASE_URL.",
            code=ErrorCode.INVALID_REQUEST,
        )
    if len(redirect_to) > MAX_REDIRECT_LENGTH:
        raise KavachError(
            f"redirect_to is longer than {MAX_REDIRECT_LENGTH} characters.",
            code=ErrorCode.INVALID_REQUEST,
        )
