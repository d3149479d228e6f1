"""What the site policy and the hooks cost a sign-in: one run, in-process, as ratios.

Signs the emulator's first person in ``--rounds`` times (each a whole sign-in: authorize, the
emulator's consent, the callback) with three apps on SQLite files side by side, interleaved so
that load on the machine falls on all three alike:

* plain: no policy and no hooks (the sites are not read at sign-in);
* policy: ``KAVACH_ALLOWED_SITES`` set (one ``accessible-resources`` call more per sign-in);
* hooks: every hook set, each an ``async`` function that does nothing.

Prints the median sign-in time of each and its ratio to plain, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bench._common import BENCH_SECRET, sqlite_url
from kavach_fastapi import KavachHooks
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import emulator_provider, emulator_transport
from tests.support.apps import build_app
from tests.support.browser import AUTHORIZE


async def _nothing(event: Any) -> None:
    return None


def _app(emulator: AtlassianEmulator, folder: Path, name: str, **options: Any) -> FastAPI:
    return build_app(
        [emulator_provider(emulator)],
        database_url=sqlite_url(folder / f"{name}.db"),
        secret=BENCH_SECRET,
        rate_limit=0,
        http_transport=emulator_transport(emulator),
        **options,
    )


def _sign_in(client: TestClient, emulator: AtlassianEmulator) -> float:
    begin = time.perf_counter()
    started = client.get(AUTHORIZE)
    back = urlsplit(asyncio.run(emulator.approve(started.headers["location"])))
    answer = client.get(f"{back.path}?{back.query}")
    elapsed = time.perf_counter() - begin
    if answer.status_code != 303 or "error=" in answer.headers["location"]:
        raise SystemExit(f"a sign-in failed: {answer.status_code} {answer.headers}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    emulator = AtlassianEmulator()
    hooks = KavachHooks(**{hook.name: _nothing for hook in dataclasses.fields(KavachHooks)})
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        apps = {
            "plain": _app(emulator, folder, "plain"),
            "policy": _app(
                emulator, folder, "policy", allowed_sites=["https://acme-eng.atlassian.net"]
            ),
            "hooks": _app(emulator, folder, "hooks", hooks=hooks),
        }
        times: dict[str, list[float]] = {name: [] for name in apps}
        clients = {name: TestClient(app, follow_redirects=False) for name, app in apps.items()}
        for client in clients.values():
            client.__enter__()
        try:
            for _ in range(3):  # warm up each app
                for client in clients.values():
                    _sign_in(client, emulator)
            for _ in range(args.rounds):
                for name, client in clients.items():
                    times[name].append(_sign_in(client, emulator))
        finally:
            for client in clients.values():
                client.__exit__(None, None, None)
    plain = statistics.median(times["plain"])
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.rounds} rounds")
    print(f"{'app':<8} {'median ms':>10} {'ratio to plain':>15}")
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"{name:<8} {median * 1000:>10.2f} {median / plain:>15.2f}")


if __name__ == "__main__":
    main()
