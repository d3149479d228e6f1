"""An emulator of Atlassian's OAuth 2.0 (3LO) service, for development and tests.

It plays auth.atlassian.com (the consent page and the token endpoint) and
api.atlassian.com (``/me``, ``/oauth/token/accessible-resources``, Jira's ``myself``,
Confluence's current user and spaces, and personal-data reporting; see
`API_ENDPOINTS`) at one base URL, and follows
Atlassian's documented rules: exact ``redirect_uri`` matching, single-use codes that live ten
minutes, PKCE (S256), client secrets in the body only, rotating refresh tokens with a reuse
interval, a ten-minute grace for the access token a refresh replaces, grants that die after a
year, a site listed once per product, and the scopes each endpoint really accepts. Of the
rest of kavach-fastapi it imports only `kavach_fastapi.lazy` (the standard library's
``importlib``, for the names below that load on first use).

Three ways to run it:

* in-process: ``httpx2.ASGITransport(app=AtlassianEmulator().app)``;
* on a real loopback socket: ``with emulator.serve() as base_url: ...``;
* from a shell: ``python -m kavach_fastapi.emulator --port 9000``.

Pytest fixtures (``atlassian_emulator``, ``atlassian_emulator_transport``,
``atlassian_emulator_url``) come from `kavach_fastapi.emulator.pytest_plugin`.

Example:
    >>> from datetime import timedelta
    >>> emu = AtlassianEmulator(auto_consent=True)
    >>> emu.faults.add("refresh", Fault("status", status=503, retry_after=2, times=1))
    >>> emu.clock.advance(timedelta(minutes=5))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kavach_fastapi.lazy import load_on_first_use

if TYPE_CHECKING:
    from kavach_fastapi.emulator.authorize import AuthorizeError
    from kavach_fastapi.emulator.clock import EmulatorClock
    from kavach_fastapi.emulator.config import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        EmulatedClient,
        EmulatedSite,
        EmulatedSpace,
        EmulatedUser,
        Lifetimes,
    )
    from kavach_fastapi.emulator.emulator import AtlassianEmulator
    from kavach_fastapi.emulator.faults import Fault, FaultEndpoint, FaultKind, Faults
    from kavach_fastapi.emulator.grants import pkce_challenge
    from kavach_fastapi.emulator.state import CallCounter, RecordedRequest

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "AtlassianEmulator",
    "AuthorizeError",
    "CallCounter",
    "EmulatedClient",
    "EmulatedSite",
    "EmulatedSpace",
    "EmulatedUser",
    "EmulatorClock",
    "Fault",
    "FaultEndpoint",
    "FaultKind",
    "Faults",
    "Lifetimes",
    "RecordedRequest",
    "pkce_challenge",
]

# Names resolve on first use (PEP 562), so that importing a submodule, such as the pytest
# plugin every pytest run loads, does not import Starlette and the rest.
_HOMES = {
    "DEFAULT_CLIENT_ID": "config",
    "DEFAULT_CLIENT_SECRET": "config",
    "AtlassianEmulator": "emulator",
    "AuthorizeError": "authorize",
    "CallCounter": "state",
    "EmulatedClient": "config",
    "EmulatedSite": "config",
    "EmulatedSpace": "config",
    "EmulatedUser": "config",
    "EmulatorClock": "clock",
    "Fault": "faults",
    "FaultEndpoint": "faults",
    "FaultKind": "faults",
    "Faults": "faults",
    "Lifetimes": "config",
    "RecordedRequest": "state",
    "pkce_challenge": "grants",
}


def __getattr__(name: str) -> Any:
    return load_on_first_use(globals(), _HOMES, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
