"""The ``kavach`` command: database upgrades, housekeeping, key rotation, a settings check and
the Atlassian emulator.

It reads the same ``KAVACH_*`` and ``ATLASSIAN_*`` settings (environment and ``.env``) as the app,
so run it where the app runs:

    kavach check                # what is missing, and the callback URL to register
    kavach db upgrade           # bring the database schema up to date
    kavach sessions purge       # delete expired sessions and sign-in attempts
    kavach keys rotate          # re-encrypt stored tokens with the newest KAVACH_SECRET key
    kavach grants status        # how many grants are healthy, idle, expiring or need consent
    kavach grants refresh-idle  # refresh idle grants before Atlassian's 90-day expiry (cron)
    kavach privacy report       # Atlassian's personal-data reporting (daily, from cron)
    kavach emulator --port 9000 # the Atlassian emulator, for development
    kavach --version            # the installed kavach-fastapi version
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any, TextIO

from .._version import __version__
from ..errors import KavachError
from ..grant_health import DEFAULT_EXPIRING_WITHIN, DEFAULT_IDLE_AFTER
from ._durations import days, duration

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
    _add_grant_commands(group("grants", "provider grants: health and keeping them alive"), action)

    report = action(
        group("privacy", "Atlassian's personal-data reporting"),
        "report",
        "privacy:run_report",
        "report stored Atlassian accounts; erase the closed, re-read the updated",
        "Report every stored Atlassian account due (once per Atlassian's Cycle-Period) to "
        "/app/report-accounts/, 90 per call; erase the people Atlassian answers closed and "
        "read again the profiles it answers updated. Run it daily from cron.",
    )
    report.add_argument(
        "--as-user",
        metavar="USER_ID",
        help="the kavach user id whose Atlassian grant authorises the calls (default: any)",
    )
    report.add_argument(
        "--max-wait",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="longest Retry-After to wait out; a longer one stops the run (default 900)",
    )
    report.add_argument(
        "--json", action="store_true", help="print the result as JSON (progress on stderr)"
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


def _add_grant_commands(
    grants: argparse._SubParsersAction[argparse.ArgumentParser],
    action: Callable[..., argparse.ArgumentParser],
) -> None:
    status = action(
        grants,
        "status",
        "grants:run_status",
        "count grants by health",
        "Count the linked accounts' grants: healthy, needing consent (the person must sign in "
        "again), idle (not refreshed for --older-than), and expiring (reaching Atlassian's "
        "365-day limit within --expiring-within). Needs only the database.",
    )
    _add_window(
        status, "--older-than", DEFAULT_IDLE_AFTER, "a grant not refreshed for this long is idle"
    )
    _add_window(
        status,
        "--expiring-within",
        DEFAULT_EXPIRING_WITHIN,
        "warn about grants reaching the 365-day limit within this",
    )
    status.add_argument("--json", action="store_true", help="print the counts as JSON")
    refresh = action(
        grants,
        "refresh-idle",
        "grants:run_refresh_idle",
        "refresh idle grants before Atlassian's 90-day expiry",
        "Refresh every grant not refreshed for --older-than, one at a time, so that people who "
        "have not used the app keep their grant (Atlassian ends refresh tokens unused for 90 "
        "days). Refreshes exactly once with the running app and with another run: safe from "
        "cron. Needs the app's settings: KAVACH_SECRET and ATLASSIAN_CLIENT_ID/SECRET.",
    )
    _add_window(
        refresh,
        "--older-than",
        DEFAULT_IDLE_AFTER,
        "refresh grants not refreshed for this long",
        "; 12h, 2w also work",
    )
    refresh.add_argument("--json", action="store_true", help="print the outcome as JSON")


def _add_window(
    command: argparse.ArgumentParser,
    flag: str,
    default: timedelta,
    help_text: str,
    more: str = "",
) -> None:
    """A duration option of the grant commands (``30d``, ``12h``, ``2w``).

    Its default is the library's (`kavach_fastapi.grant_health`), shown in days.
    """
    command.add_argument(
        flag, type=duration, default=default, help=f"{help_text} (default {days(default)}d{more})"
    )


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the ``kavach`` command; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    stream = out or sys.stdout
    if arguments[:1] == ["emulator"]:
        from ..emulator.cli import main as emulator_main  # noqa: PLC0415 - optional extra

        return emulator_main(arguments[1:], prog="kavach emulator")
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
