"""A clean environment: the developer's ``KAVACH_*``/``ATLASSIAN_*`` variables and ``.env`` stay out.

The package reads its settings from the environment and from a ``.env`` file in the working
directory, so a test run started in a checkout with a ``.env`` (``KAVACH_RATE_LIMIT=1``, say)
would otherwise test that file instead of the defaults. ``isolate`` is what the autouse
fixture of ``tests/conftest.py`` does for every test; ``clean_environment`` is the same for the
environment handed to a subprocess.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = [
    "ATLASSIAN_APP_ENVIRONMENT",
    "OWN_PREFIXES",
    "clean_environment",
    "isolate",
    "set_environment",
]

OWN_PREFIXES = ("ATLASSIAN_", "KAVACH_")
"""The variables that configure the package (and its emulator)."""


ATLASSIAN_APP_ENVIRONMENT = {
    "ATLASSIAN_CLIENT_ID": "client-id",
    "ATLASSIAN_CLIENT_SECRET": "client-secret",
    "ATLASSIAN_AUTH_URL": "http://127.0.0.1:9000/",
    "ATLASSIAN_API_URL": "http://127.0.0.1:9000/api",
    "ATLASSIAN_USE_PKCE": "false",
}
"""An Atlassian app configured wholly from the environment: credentials, local URLs, PKCE off."""


def _ours(name: str) -> bool:
    return name.upper().startswith(OWN_PREFIXES)


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any ``ATLASSIAN_*`` or ``KAVACH_*``, plus ``settings``."""
    env = {name: value for name, value in os.environ.items() if not _ours(name)}
    env.update(settings)
    return env


def isolate(monkeypatch: pytest.MonkeyPatch, working_directory: Path) -> None:
    """Clear the package's variables and move into an empty working directory (no ``.env``)."""
    for name in list(os.environ):
        if _ours(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(working_directory)


def set_environment(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    """Set each of ``variables`` for the rest of the test."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
