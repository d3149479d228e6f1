"""Product-API paths in which a value stays within its own segment.

Values go into ``path_params=`` and are percent-encoded within their segment (`api_path`),
and a path that could be read in more than one way (``?``, ``#``, percent-escapes, ``..``, ...)
is refused with [`InvalidAPIPathError`][kavach_fastapi.InvalidAPIPathError] before anything is
sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from ..errors import InvalidAPIPathError

PRODUCT = re.compile(r"[a-z][a-z-]{1,30}")
"""What a product name in ``/ex/{product}/...`` looks like (``jira``, ``confluence``)."""
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
