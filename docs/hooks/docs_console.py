"""``console`` markers: ``kavach`` command lines shown with what they print.

The commands of a build run together in one child process (this file run as a script), in a
scratch folder each, so that they see only the environment the page shows.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
from typing import Any

log = logging.getLogger("mkdocs.hooks.kavach_docs")

COMMAND_ENV = {
    "ATLASSIAN_CLIENT_ID": "your-client-id",
    "ATLASSIAN_CLIENT_SECRET": "your-client-secret",
}
"""The credentials every ``console`` marker runs with (shown on the pages as placeholders)."""

SHOWN_FOLDER = "/srv/jira-tools"
"""The folder the commands are shown run in (they run in a new scratch folder each time)."""

_CONSOLE: dict[str, str] = {}
"""Rendered ``console`` markers of this build, by marker argument."""


def console(argument: str) -> str:
    """A ``kavach`` command line, run in a scratch folder, shown with its output."""
    if argument not in _CONSOLE:
        run_commands([argument])
    return _CONSOLE.get(argument, "")


def clear() -> None:
    """Forget the outputs of an earlier build."""
    _CONSOLE.clear()


def run_commands(arguments: list[str]) -> None:
    """Run the commands of ``console`` markers in one child process and keep their Markdown."""
    commands: list[dict[str, Any]] = []
    shown: list[str] = []
    for argument in arguments:
        words = shlex.split(argument)
        settings = {}
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            settings[name] = value
        if not words or words[0] != "kavach":
            log.warning(
                "kavach:console must run a `kavach` command, not %r", argument
            )
            continue
        env = {
            "PATH": os.environ.get("PATH", ""),
            "COLUMNS": "100",
            **COMMAND_ENV,
            **settings,
        }
        commands.append({"env": env, "args": words[1:]})
        shown.append(argument)
    if not commands:
        return
    completed = subprocess.run(  # noqa: S603 - our own CLI, with arguments from our own pages
        [sys.executable, __file__],
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        log.warning("the kavach commands of the docs failed:\n%s", completed.stderr)
        return
    for argument, output in zip(shown, json.loads(completed.stdout), strict=True):
        if "Traceback" in output:
            log.warning("`%s` crashed:\n%s", argument, output)
        _CONSOLE[argument] = f"```console\n$ {argument}\n{output.rstrip()}\n```\n"


def main() -> None:
    """Run the commands read from standard input; print their outputs as a JSON list."""
    from kavach_fastapi.cli import main as kavach  # noqa: PLC0415 - only in the child

    results = []
    for command in json.load(sys.stdin):
        with tempfile.TemporaryDirectory(prefix="kavach-docs-") as scratch:
            os.chdir(scratch)
            os.environ.clear()
            os.environ.update(command["env"], HOME=scratch)
            if command["args"][:1] == ["grants"]:
                # The scratch database is brought up to date first, as the app would have
                # done, so that `grants` reports on the settings shown.
                kavach(["db", "upgrade"], out=io.StringIO())
            output = io.StringIO()
            with (
                contextlib.redirect_stdout(output),
                contextlib.redirect_stderr(output),
                contextlib.suppress(SystemExit),
            ):
                kavach(command["args"], out=output)
            # The scratch folder's name changes with every build: shown as the app's folder.
            results.append(
                output.getvalue().replace(os.path.realpath(scratch), SHOWN_FOLDER)
            )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
