"""Calling Atlassian's product APIs as the signed-in person.

:class:`AtlassianClient` sends requests to ``ATLASSIAN_API_URL/ex/{product}/{cloud_id}/...``
(the only way a 3LO token reaches Jira or Confluence), after checking that the cloud id is one of
the person's sites. It refreshes the token and retries once on a 401, and honours ``429`` with
``Retry-After`` within a small budget.

Paths are built so that a segment stays a segment: values go into ``path_params=`` and are
percent-encoded within their segment (:func:`api_path`), and a path that could be read in more
than one way (``?``, ``#``, percent-escapes, ``..``, ...) is refused with
:class:`~kavach_fastapi.errors.InvalidAPIPathError` before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx2

from ..errors import InvalidAPIPathError, ReauthRequiredError, UnknownSiteError
from ..models import AtlassianSite
from ..providers.atlassian import AtlassianProvider
from ..tokens import TokenService
from .sites import find_site

_PRODUCT = re.compile(r"[a-z][a-z-]{1,30}")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# RFC 3986 path characters, without percent-escapes: every one means itself in every server.
_LITERAL = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]*")

PathValue = str | int
"""A value for a ``{placeholder}`` of a product API path."""


def api_path(template: str, path_params: Mapping[str, PathValue] | None = None) -> str:
    """A product API path in which every value stays within its own segment.

    Args:
        template: the path from Atlassian's REST reference, with ``{name}`` placeholders,
            e.g. ``/rest/api/3/issue/{key}/comment``. Outside the placeholders only plain
            path characters may appear: no ``?``, ``#``, ``%``, backslash, white space,
            control or non-ASCII characters, and no ``.``, ``..`` or empty segments (so no
            ``//`` and no ``/`` at the end).
        path_params: a value for every placeholder (a string or an integer), each
            percent-encoded so that ``/``, ``?``, ``#``, ``%`` and the rest are data.

    Returns:
        The path, starting with ``/``, to append to ``/ex/{product}/{cloud_id}``.

    Raises:
        InvalidAPIPathError: the template or a value is malformed, a placeholder has no
            value, or a value is given for no placeholder.
    """
    if not isinstance(template, str) or not template.startswith("/"):
        raise _invalid("it must be a string that starts with '/'")
    params = dict(path_params or {})
    used: set[str] = set()

    def value_for(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise _invalid("a {placeholder} has no value in path_params")
        used.add(name)
        return _encoded(params[name])

    segments = template[1:].split("/")
    built: list[str] = []
    for segment in segments:
        if not all(_LITERAL.fullmatch(part) for part in _PLACEHOLDER.split(segment)[::2]):
            raise _invalid(
                "it holds a character that is not plain: put values into path_params= "
                "and queries into params="
            )
        filled = _PLACEHOLDER.sub(value_for, segment)
        if filled in (".", ".."):
            raise _invalid("a segment is '.' or '..'")
        if not filled:
            raise _invalid("it has an empty segment ('//', or '/' at the end)")
        built.append(filled)
    if set(params) - used:
        raise _invalid("path_params has a value for no {placeholder} of the path")
    return "/" + "/".join(built)


def _encoded(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _invalid("a path_params value must be a string or an integer")
    text = str(value)
    if not text:
        raise _invalid("a path_params value is empty")
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:  # a lone surrogate: no URL can carry it
        raise _invalid("a path_params value is not valid text") from None


def _invalid(reason: str) -> InvalidAPIPathError:
    # The reason is one of the fixed phrases above: the path itself, which may come from a
    # person's input, is never echoed into an answer.
    return InvalidAPIPathError(f"That is not a valid Atlassian API path: {reason}.")


@asynccontextmanager
async def offering_reauth(reauth_url: str | None) -> AsyncIterator[None]:
    """Add the URL that starts the consent again to a ``reauth_required`` error."""
    try:
        yield
    except ReauthRequiredError as exc:
        exc.reauth_url = exc.reauth_url or reauth_url
        raise


class AtlassianClient:
    """Atlassian's APIs, authorised as one signed-in user.

    Get one with the ``AtlassianAPI`` dependency::

        @app.get("/jira/{cloud_id}/me")
        async def jira_me(cloud_id: str, atlassian: AtlassianAPI) -> dict[str, Any]:
            response = await atlassian.get("jira", cloud_id, "/rest/api/3/myself")
            return response.json()
    """

    def __init__(
        self,
        tokens: TokenService,
        provider: AtlassianProvider,
        user_id: str,
        *,
        reauth_url: str | None = None,
    ) -> None:
        self._tokens = tokens
        self._provider = provider
        self._user_id = user_id
        self._reauth_url = reauth_url

    async def sites(self) -> list[AtlassianSite]:
        """The person's sites (cached; see ``KAVACH_SITES_CACHE_TTL``)."""
        async with offering_reauth(self._reauth_url):
            return await self._tokens.sites(self._user_id, self._provider)

    async def site(self, cloud_id: str | None = None, *, url: str | None = None) -> AtlassianSite:
        """One of the person's sites, by cloud id or URL.

        Raises:
            UnknownSiteError: the person has not granted access to such a site.
        """
        found = find_site(await self.sites(), cloud_id=cloud_id, url=url)
        if found is None:
            raise UnknownSiteError
        return found

    async def request(
        self,
        method: str,
        product: str,
        cloud_id: str,
        path: str,
        *,
        path_params: Mapping[str, PathValue] | None = None,
        **kwargs: Any,
    ) -> httpx2.Response:
        """Send ``method`` to ``/ex/{product}/{cloud_id}{path}`` and return the answer.

        Put anything that comes from a person into ``path_params=``, never into ``path``
        itself: ``get("jira", cloud_id, "/rest/api/3/issue/{key}", path_params={"key": key})``
        sends ``key`` as one segment whatever it holds. See :func:`api_path`.

        ``GET``, ``HEAD``, ``OPTIONS``, ``PUT`` and ``DELETE`` are sent again after a timeout
        or a lost connection; ``POST`` and ``PATCH`` only when Atlassian cannot have acted on
        them (the connection failed, or it answered ``429`` with ``Retry-After``), so a slow
        answer never makes a duplicate issue or comment.

        Args:
            method: ``GET``, ``POST``, ...
            product: ``"jira"`` or ``"confluence"``.
            cloud_id: one of the person's sites.
            path: the product API path, e.g. ``/rest/api/3/myself``, with ``{name}``
                placeholders for values.
            path_params: a value for each placeholder, percent-encoded within its segment.
            kwargs: passed to ``httpx2`` (``params=`` for the query, ``json=``, ``headers=``...).

        Raises:
            InvalidAPIPathError: ``product``, ``path`` or a ``path_params`` value is malformed
                or ambiguous (answered as 400); nothing was sent.
            UnknownSiteError: the cloud id is not one of the person's sites.
            ReauthRequiredError: the person must consent again.
            ProviderUnavailableError: Atlassian is down or rate-limiting beyond the retry
                budget, or a ``POST``/``PATCH`` got no answer in time.
        """
        if not isinstance(product, str) or not _PRODUCT.fullmatch(product):
            raise InvalidAPIPathError("That is not a valid Atlassian product name.")
        built = api_path(path, path_params)
        site = await self.site(cloud_id)
        url = f"{self._provider.api_url}/ex/{product}/{quote(site.id, safe='')}{built}"
        async with offering_reauth(self._reauth_url):
            return await self._tokens.call(self._user_id, self._provider.id, method, url, **kwargs)

    async def get(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``GET`` a product API path (see :meth:`request`)."""
        return await self.request("GET", product, cloud_id, path, **kwargs)

    async def post(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``POST`` to a product API path (see :meth:`request`); resent only if it never arrived."""
        return await self.request("POST", product, cloud_id, path, **kwargs)

    async def put(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``PUT`` to a product API path (see :meth:`request`)."""
        return await self.request("PUT", product, cloud_id, path, **kwargs)

    async def patch(self, product: str, cloud_id: str, path: str, **kwargs: Any) -> httpx2.Response:
        """``PATCH`` a product API path (see :meth:`request`); resent only if it never arrived."""
        return await self.request("PATCH", product, cloud_id, path, **kwargs)

    async def delete(
        self, product: str, cloud_id: str, path: str, **kwargs: Any
    ) -> httpx2.Response:
        """``DELETE`` a product API path (see :meth:`request`)."""
        return await self.request("DELETE", product, cloud_id, path, **kwargs)
