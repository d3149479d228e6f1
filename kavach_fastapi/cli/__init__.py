"""The ``kavach`` command: database upgrades, housekeeping, key rotation, a settings check and
the Atlassian emulator.

It reads the same ``KAVACH_*`` and ``ATLASSIAN_*`` settings (environment and ``.env``) as the app,
so run it where the app runs:

    kavach check                # what is missing, and the callback URL to register
    kavach db upgrade           # bring the database schema up to date
    kavach sessions purge       # delete expired sessions and sign-in attempts
    kavach keys rotate          # re-encrypt stored tokens with the newest KAVACH_SECRET key
    kavach emulator --port 9000 # the Atlassian emulator, for development
    kavach --version            # the installed kavach-fastapi version
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TextIO

from .._version import __version__
from ..errors import KavachError

PURGE_BATCH = 1000

Command = Callable[[argparse.Namespace, TextIO], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    """The ``kavach`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="kavach",
        description="Manage kavach-fastapi: database, sessions, keys, settings and the emulator.",
        epilog="Settings come from the environment (and .env), as for the app.",
    )
    parser.add_argument("--version", action="version", version=f"kavach-fastapi {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        actions = commands.add_parser(name, help=help_text)
        return actions.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)

    def action(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        run: str,
        help_text: str,
        description: str,
    ) -> argparse.ArgumentParser:
        command = parent.add_parser(name, help=help_text, description=description)
        command.add_argument("--database-url", help="override KAVACH_DATABASE_URL for this command")
        command.set_defaults(run=run)
        return command

    db = group("db", "database schema")
    action(
        db,
        "upgrade",
        "db:run_upgrade",
        "bring the schema up to date",
        "Apply every migration the database is missing. Safe to run repeatedly.",
    )
    action(
        db,
        "current",
        "db:run_current",
        "show the schema revision",
        "Print the database's schema revision; exit 1 when it is behind.",
    )
    purge = action(
        group("sessions", "sessions and sign-in attempts"),
        "purge",
        "sessions:run_purge",
        "delete expired sessions and sign-in attempts",
        "Delete sessions past their lifetime or idle timeout, expired sign-in attempts and old "
        "rate-limit counters, in batches with progress.",
    )
    purge.add_argument(
        "--batch", type=int, default=PURGE_BATCH, help="rows per batch (default 1000)"
    )
    action(
        group("keys", "encryption keys"),
        "rotate",
        "keys:run_rotate",
        "re-encrypt stored tokens with the newest key",
        "Put the new key first in KAVACH_SECRET (NEW,OLD), run this, then drop OLD.",
    )
    check = action(
        commands,
        "check",
        "check:run_check",
        "check the settings and print the callback URL to register",
        "Read the settings, say what is missing, check the database, and print the exact "
        "callback URL to register in Atlassian's developer console.",
    )
    check.add_argument("--base-url", help="the public URL of the router's mount point")
    commands.add_parser(
        "emulator",
        help="run the Atlassian emulator (as python -m kavach_fastapi.emulator)",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the ``kavach`` command; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    stream = out or sys.stdout
    if arguments[:1] == ["emulator"]:
        from ..emulator.cli import main as emulator_main  # noqa: PLC0415 - optional extra

        return emulator_main(arguments[1:])
    args = build_parser().parse_args(arguments)
    run = _command(args.run)
    try:
        return asyncio.run(run(args, stream))
    except KavachError as exc:
        print(f"kavach: {exc.message}", file=sys.stderr)
        return 2


def _command(name: str) -> Command:
    """A command's function, imported only when it runs (``kavach --help`` stays quick)."""
    module, _, function = name.partition(":")
    command: Command = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    return command
