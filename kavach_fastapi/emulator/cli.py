"""The emulator's command line: ``python -m kavach_fastapi.emulator [options]``.

`main` is reused by the ``kavach emulator`` command.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from kavach_fastapi.emulator.config import DEFAULT_REDIRECT_URIS, EmulatedClient
from kavach_fastapi.emulator.emulator import AtlassianEmulator
from kavach_fastapi.emulator.server import (
    bind_socket,
    load_uvicorn,
    url_for_socket,
    uvicorn_config,
)

__all__ = ["banner", "build_parser", "main"]

_DESCRIPTION = """\
Run an emulator of Atlassian's OAuth 2.0 (3LO) service on this machine. One base URL
plays both auth.atlassian.com and api.atlassian.com: point ATLASSIAN_AUTH_URL and
ATLASSIAN_API_URL at it and sign in as Ada Lovelace or Grace Hopper.
"""

_EPILOG = """\
The demo app is registered with these callback URLs (add more with --redirect-uri):
  {uris}

examples:
  {prog}
  {prog} --port 9100 --auto-consent
  {prog} --redirect-uri http://127.0.0.1:5000/auth/callback
"""

PROG = "python -m kavach_fastapi.emulator"
"""How the emulator is run from a shell; ``kavach emulator`` runs it too."""


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Return the argument parser of the emulator's command line, run as ``prog``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=_DESCRIPTION,
        epilog=_EPILOG.format(uris="\n  ".join(DEFAULT_REDIRECT_URIS), prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=9000,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URL",
        help="register one more callback URL for the demo app (repeatable)",
    )
    parser.add_argument(
        "--auto-consent",
        action="store_true",
        help="skip the consent page: sign in as the first user with every site at once",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default: %(default)s)",
    )
    return parser


def banner(base_url: str, client: EmulatedClient, *, auto_consent: bool = False) -> str:
    """Return what the command prints on start: the URL, the credentials, the env lines."""
    lines = [
        f"Atlassian emulator running at {base_url}",
        "",
        f"  client id:      {client.client_id}",
        f"  client secret:  {client.client_secret}",
        "  callback URLs:  " + ("\n                  ".join(client.redirect_uris) or "(none)"),
        f"  consent page:   {'skipped (--auto-consent)' if auto_consent else 'shown'}",
        "",
        "Set these in your app's environment:",
        "",
        f"ATLASSIAN_AUTH_URL={base_url}",
        f"ATLASSIAN_API_URL={base_url}",
        f"ATLASSIAN_CLIENT_ID={client.client_id}",
        f"ATLASSIAN_CLIENT_SECRET={client.client_secret}",
        "",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, prog: str = PROG
) -> int:
    """Run the emulator until interrupted.

    Args:
        argv: The arguments, without the program name; ``None`` reads ``sys.argv``.
        stdout: Where to print the banner; defaults to ``sys.stdout``.
        prog: How the command was run, for its ``--help`` and its errors.

    Returns:
        The exit status.
    """
    out = stdout if stdout is not None else sys.stdout
    # Arguments first: --help and a wrong option need no server.
    args = build_parser(prog).parse_args(argv)
    try:
        uvicorn = load_uvicorn()
    except ModuleNotFoundError as exc:
        if exc.name != "uvicorn":
            raise
        print(exc, file=sys.stderr)
        return 1
    emulator = AtlassianEmulator(auto_consent=args.auto_consent)
    for uri in args.redirect_uri:
        if uri not in emulator.default_client.redirect_uris:
            emulator.default_client.redirect_uris.append(uri)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    with sock:
        base_url = url_for_socket(sock)
        print(banner(base_url, emulator.default_client, auto_consent=args.auto_consent), file=out)
        out.flush()
        logging.basicConfig(level=args.log_level.upper(), format="%(levelname)-9s %(message)s")
        config = uvicorn_config(
            emulator.app,
            log_level=args.log_level,
            access_log=True,
            log_config=uvicorn.config.LOGGING_CONFIG,
        )
        # uvicorn shuts down gracefully on Ctrl+C, then re-raises the interrupt it caught.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])
    print("Atlassian emulator stopped.", file=out)
    return 0
