"""The package as an index would get it: an sdist and a wheel, built here in isolation.

Building and installing need the package index (for hatchling, and for the wheel's
dependencies in a fresh virtual environment). When it cannot be reached the tests skip with
the reason, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INDEX_TIMEOUT = "20"
"""Seconds pip waits for the index per try; pip's own default may be minutes."""

_UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Name or service not known|Network is unreachable|ConnectTimeout|"
    r"\(from versions: none\)"
)


def in_ci() -> bool:
    """Whether this run is CI, where every test must run."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pip_environment() -> dict[str, str]:
    """This environment with short index timeouts, so an unreachable index fails fast."""
    return {**os.environ, "PIP_DEFAULT_TIMEOUT": INDEX_TIMEOUT, "PIP_RETRIES": "1"}


def run_needing_the_index(command: list[str], *, what: str) -> None:
    """Run ``command``; skip the test when it failed for want of the index, fail otherwise."""
    done = subprocess.run(  # noqa: S603 - the test's own command line
        command,
        env=pip_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode == 0:
        return
    output = done.stdout + done.stderr
    if _UNREACHABLE.search(output) and not in_ci():
        pytest.skip(f"{what} needs the package index, which cannot be reached")
    pytest.fail(f"{what} failed:\n{output}")


@dataclass(frozen=True)
class Dist:
    """What ``make dist`` builds."""

    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist, and the wheel built from it, as ``make dist`` builds them."""
    out = tmp_path_factory.mktemp("dist")
    run_needing_the_index(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], what="Building"
    )
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dist(sdist=sdist, wheel=wheel)
