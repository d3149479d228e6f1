"""Debian's Chromium, the one browser the tests drive (never a downloaded one).

Without ``/usr/bin/chromium`` a browser test skips with the reason, except in CI (``CI`` set,
as ``.ci/run`` does), where a missing browser fails the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "in_ci", "require_chromium"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # No calls home: the machine may have no network at all.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def in_ci() -> bool:
    """Whether this run is CI, where every test must run."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> Path:
    """Debian's Chromium; skips the calling test without it, or fails it in CI."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so a missing browser fails the run)")
    pytest.skip(reason)
