"""The real ``kavach`` console script, run as a person runs it: in a folder, with an environment."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .served_apps import clean_environment

KAVACH = Path(sys.executable).with_name("kavach")
"""The console script installed beside this interpreter."""

BLOCK_MODULES = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None\n"


@dataclass(frozen=True)
class Ran:
    """What a command did: its exit status and what it printed."""

    status: int
    out: str
    err: str


def run_kavach(
    *argv: str,
    cwd: Path,
    settings: dict[str, str] | None = None,
    missing: Sequence[str] = (),
    timeout: float = 60.0,
) -> Ran:
    """Run ``kavach argv...`` in ``cwd`` with only ``settings`` as ``KAVACH_*``/``ATLASSIAN_*``.

    Args:
        argv: the command's arguments.
        cwd: the working folder (a relative SQLite path means a file there).
        settings: the environment variables to set.
        missing: modules to make unimportable, as where they were never installed (a
            ``sitecustomize`` outside ``cwd`` puts ``None`` in ``sys.modules`` for each).
        timeout: seconds before the command is killed (a hang fails the test, not the run).
    """
    env = clean_environment(**(settings or {}))
    if missing:
        site = cwd.parent / f"{cwd.name}-site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(BLOCK_MODULES.format(names=tuple(missing)))
        env["PYTHONPATH"] = str(site)
    done = subprocess.run(  # noqa: S603 - our own console script
        [str(KAVACH), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)
