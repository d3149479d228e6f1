"""The ``kavach`` command: database upgrades, housekeeping, key rotation, a settings check and
the Atlassian emulator.

It reads the same ``KAVACH_*`` and ``ATLASSIAN_*`` settings (environment and ``.env``) as the app,
so run it where the app runs::

    kavach check                # what is missing, and the callback URL to register
    kavach db upgrade           # bring the database schema up to date
    kavach sessions purge       # delete expired sessions and sign-in attempts
    kavach keys rotate          # re-encrypt stored tokens with the newest KAVACH_SECRET key
    kavach emulator --port 9000 # the Atlassian emulator, for development
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TextIO

from sqlalchemy.engine import make_url

from .crypto import Keyring
from .errors import ConfigurationError, KavachError
from .keyfile import is_sqlite, resolve_secret_keys
from .migrate import current_revision, head_revision, upgrade
from .models import utcnow
from .ratelimit import WINDOW_SECONDS
from .settings import AtlassianSettings, KavachSettings, load_settings
from .store import Store
from .tokens import TokenService

CALLBACK_SUFFIX = "/auth/oauth/callback/atlassian"
DEFAULT_MOUNT_URL = "http://127.0.0.1:8000/api/kavach"
PURGE_BATCH = 1000


def _settings(args: argparse.Namespace) -> KavachSettings:
    return load_settings(KavachSettings, database_url=getattr(args, "database_url", None))


def _safe_url(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


async def _db_upgrade(args: argparse.Namespace, out: TextIO) -> int:
    settings = _settings(args)
    store = Store(settings.database_url)
    try:
        print(f"Upgrading {_safe_url(settings.database_url)} ...", file=out)
        before, after = await upgrade(store.writer)
    finally:
        await store.dispose()
    if before == after:
        print(f"Already at the newest revision ({after}).", file=out)
    else:
        print(f"Upgraded from {before or '(empty)'} to {after}.", file=out)
    return 0


async def _db_current(args: argparse.Namespace, out: TextIO) -> int:
    settings = _settings(args)
    store = Store(settings.database_url)
    try:
        current = await current_revision(store.engine)
    finally:
        await store.dispose()
    head = head_revision()
    state = "up to date" if current == head else "behind: run `kavach db upgrade`"
    print(f"Database revision {current or '(none)'}, newest {head}: {state}.", file=out)
    return 0 if current == head else 1


async def _sessions_purge(args: argparse.Namespace, out: TextIO) -> int:
    settings = _settings(args)
    store = Store(settings.database_url)
    now = utcnow()
    total = 0
    try:
        while True:
            removed = await store.purge_sessions(
                now=now, idle_before=now - settings.session_idle_timeout, limit=args.batch
            )
            if removed == 0:
                break
            total += removed
            print(f"  deleted {total} expired sessions so far ...", file=out, flush=True)
        attempts = await store.purge_attempts(now=now)
        windows = await store.forget_windows_before(int(now.timestamp() // WINDOW_SECONDS) - 1)
    finally:
        await store.dispose()
    print(
        f"Deleted {total} expired sessions, {attempts} expired sign-in attempts and "
        f"{windows} old rate-limit counters.",
        file=out,
    )
    return 0


async def _keys_rotate(args: argparse.Namespace, out: TextIO) -> int:
    settings = _settings(args)
    keys = resolve_secret_keys(settings)
    if len(keys) < 2:
        print(
            "Note: KAVACH_SECRET holds one key. To rotate, put the new key first and keep the "
            "old one after it (NEW,OLD), run this, then remove the old key.",
            file=out,
        )
    store = Store(settings.database_url)
    tokens = TokenService(
        store,
        Keyring(keys),
        {},
        leeway=settings.token_refresh_leeway,
        sites_ttl=settings.sites_cache_ttl,
    )

    def progress(done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            print(f"  {done}/{total} accounts checked ...", file=out, flush=True)

    try:
        changed = await tokens.rotate_keys(progress=progress)
    finally:
        await store.dispose()
    print(f"Re-encrypted the tokens of {changed} accounts with the newest key.", file=out)
    return 0


def _atlassian_problems() -> list[str]:
    try:
        atlassian = load_settings(AtlassianSettings)
    except ConfigurationError as exc:
        return [exc.message]
    problems = []
    if not atlassian.client_id:
        problems.append("ATLASSIAN_CLIENT_ID is not set (the 3LO app's client id).")
    if not atlassian.client_secret:
        problems.append("ATLASSIAN_CLIENT_SECRET is not set (the 3LO app's secret).")
    return problems


async def _database_problems(settings: KavachSettings) -> list[str]:
    store = Store(settings.database_url)
    try:
        current = await current_revision(store.engine)
    except Exception as exc:  # any failure to connect is reported the same way
        return [f"Cannot reach {_safe_url(settings.database_url)}: {type(exc).__name__}."]
    finally:
        await store.dispose()
    if current != head_revision():
        return [
            f"The database schema is at {current or '(none)'}, not {head_revision()}: "
            "run `kavach db upgrade`."
        ]
    return []


async def _check(args: argparse.Namespace, out: TextIO) -> int:
    problems = _atlassian_problems()
    settings: KavachSettings | None = None
    try:
        settings = _settings(args)
    except ConfigurationError as exc:
        problems.append(exc.message)
    mount = args.base_url or (settings.base_url if settings else None)
    print("Callback URL to register in Atlassian's developer console", file=out)
    print("(https://developer.atlassian.com/console/myapps/ > your app > Authorization):", file=out)
    print(f"  {(mount or DEFAULT_MOUNT_URL).rstrip('/')}{CALLBACK_SUFFIX}", file=out)
    if not mount:
        print(
            "  (KAVACH_BASE_URL is not set: this assumes the router is mounted at /api/kavach "
            "on http://127.0.0.1:8000; set KAVACH_BASE_URL to your public URL.)",
            file=out,
        )
    if settings is not None:
        if not settings.secret_keys and is_sqlite(settings.database_url):
            print("KAVACH_SECRET is not set: a key file is kept beside the SQLite file.", file=out)
        elif not settings.secret_keys:
            problems.append("KAVACH_SECRET is not set; it is required for this database.")
        problems += await _database_problems(settings)
    if problems:
        print("\nTo fix:", file=out)
        for problem in problems:
            print(f"  - {problem}", file=out)
        return 1
    print("\nEverything needed is set.", file=out)
    return 0


Command = Callable[[argparse.Namespace, TextIO], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    """The ``kavach`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="kavach",
        description="Manage kavach-fastapi: database, sessions, keys, settings and the emulator.",
        epilog="Settings come from the environment (and .env), as for the app.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def database_option(command: argparse.ArgumentParser) -> None:
        command.add_argument("--database-url", help="override KAVACH_DATABASE_URL for this command")

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_up = db_commands.add_parser(
        "upgrade",
        help="bring the schema up to date",
        description="Apply every migration the database is missing. Safe to run repeatedly.",
    )
    database_option(db_up)
    db_up.set_defaults(run=_db_upgrade)
    db_now = db_commands.add_parser(
        "current",
        help="show the schema revision",
        description="Print the database's schema revision; exit 1 when it is behind.",
    )
    database_option(db_now)
    db_now.set_defaults(run=_db_current)

    sessions = commands.add_parser("sessions", help="sessions and sign-in attempts")
    session_commands = sessions.add_subparsers(
        dest="sessions_command", metavar="ACTION", required=True
    )
    purge = session_commands.add_parser(
        "purge",
        help="delete expired sessions and sign-in attempts",
        description="Delete sessions past their lifetime or idle timeout, expired sign-in "
        "attempts and old rate-limit counters, in batches with progress.",
    )
    database_option(purge)
    purge.add_argument(
        "--batch", type=int, default=PURGE_BATCH, help="rows per batch (default 1000)"
    )
    purge.set_defaults(run=_sessions_purge)

    keys = commands.add_parser("keys", help="encryption keys")
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = key_commands.add_parser(
        "rotate",
        help="re-encrypt stored tokens with the newest key",
        description="Put the new key first in KAVACH_SECRET (NEW,OLD), run this, then drop OLD.",
    )
    database_option(rotate)
    rotate.set_defaults(run=_keys_rotate)

    check = commands.add_parser(
        "check",
        help="check the settings and print the callback URL to register",
        description="Read the settings, say what is missing, check the database, and print the "
        "exact callback URL to register in Atlassian's developer console.",
    )
    check.add_argument("--base-url", help="the public URL of the router's mount point")
    database_option(check)
    check.set_defaults(run=_check)

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
        from .emulator.cli import main as emulator_main  # noqa: PLC0415 - optional extra

        return emulator_main(arguments[1:])
    args = build_parser().parse_args(arguments)
    run: Command = args.run
    try:
        return asyncio.run(run(args, stream))
    except KavachError as exc:
        print(f"kavach: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
