"""Asking for more scopes than the configured ones, only in links the app itself made.

[`require_atlassian_scopes()`][kavach_fastapi.require_atlassian_scopes] answers a grant that
lacks a scope with a ``reauth_url`` whose ``extra_scopes`` parameter names the missing scopes,
sealed with the app's key (``KAVACH_SECRET``). The authorize endpoint asks Atlassian for the
configured scopes plus the ones in a sealed value it can open, and refuses any other: a link
crafted elsewhere cannot make a person grant this app more than the app's own routes ask for.
"""

from __future__ import annotations

import re

from .codes import ErrorCode
from .crypto import DecryptionError, Keyring
from .errors import KavachError

EXTRA_SCOPES_PARAM = "extra_scopes"
"""The authorize endpoint's query parameter that carries sealed extra scopes."""

_SCOPE = re.compile(r"[A-Za-z0-9:._\-]{1,100}")
MAX_EXTRA_SCOPES = 50
MAX_SEALED_LENGTH = 4000
"""The longest ``extra_scopes`` value opened (sealed scope names are far shorter); longer is refused."""


def _context(provider_id: str) -> str:
    return f"kavach:authorize:{provider_id}:extra_scopes"


def check_scope_names(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """The scopes, if each is a plain scope name; at most `MAX_EXTRA_SCOPES` of them.

    Raises:
        ValueError: a name is empty, has spaces or other characters no scope has.
    """
    if len(scopes) > MAX_EXTRA_SCOPES:
        raise ValueError(f"at most {MAX_EXTRA_SCOPES} scopes, got {len(scopes)}")
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise ValueError(f"{scope!r} is not a scope name such as 'read:jira-work'")
    return scopes


def seal_extra_scopes(keyring: Keyring, provider_id: str, scopes: tuple[str, ...]) -> str:
    """The ``extra_scopes`` value that lets the authorize endpoint ask for ``scopes``."""
    return keyring.encrypt(" ".join(check_scope_names(scopes)), context=_context(provider_id))


def open_extra_scopes(keyring: Keyring, provider_id: str, sealed: str) -> tuple[str, ...]:
    """The scopes a sealed ``extra_scopes`` value names.

    Raises:
        KavachError: ``invalid_request``: the value was not made by this app (or its key left
            ``KAVACH_SECRET``); nothing is started.
    """
    try:
        if len(sealed) > MAX_SEALED_LENGTH:
            raise ValueError("too long to be a value this app made")
        return check_scope_names(
            tuple(keyring.decrypt(sealed, context=_context(provider_id)).split())
        )
    except (DecryptionError, ValueError):
        raise KavachError(
            "extra_scopes is not a value this app made: follow the app's reauth_url as it is.",
            code=ErrorCode.INVALID_REQUEST,
        ) from None
