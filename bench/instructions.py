"""What ``CurrentUser`` costs per request, in CPU instructions: the same count on a busy machine.

Throughput ratios on a shared 2-core machine move by +-10 % from run to run (a no-op dependency
has read 1.11 of a bare route), too much to tell 0.90 from 0.95. Instructions do not: valgrind's
callgrind counts every instruction the server executes, whatever else the machine is doing.

For each route (``/bare``; ``/dep``, a dependency of ``CurrentUser``'s shape that returns a fixed
user, FastAPI's own cost of handing a route its user; ``/me``, ``CurrentUser``)
uvicorn (asyncio, h11: what ``pip install uvicorn`` runs) serves the benchmark app under
callgrind twice, once for ``--few`` requests and once for ``--many``, sent one after another by
a client outside valgrind after every session was checked once (``POST /warm``); the difference
over the extra requests is what one request costs, start-up and warm-up cancelled out. Printed:
instructions per request, the ratio to the bare route (bare / route: 1.00 is free) and to the
floor (what kavach itself costs).

Under callgrind the server runs about `SLOWDOWN` times slower than at full speed, while the
session change feed is read on the clock (every half ``KAVACH_SESSION_CACHE_SECONDS``): left at
1 s, it would be read that many times more often per request than in a real server, and its
queries would be counted against every request. The bound is therefore stretched by the same
factor, so that the feed is read about as often per request as at full speed.

Run from the repository (``apt-get install -y valgrind``; about 1 minute per server)::

    .venv/bin/python -m bench.instructions
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2

from bench._common import (
    APP_DIR,
    APP_FACTORY,
    FLOOR_LABEL,
    FLOOR_PATH,
    bench_app_environment,
    scratch_dir,
    seed_sessions,
    sqlite_url,
    table,
)
from tests.databases import upgrade_schema
from tests.support.environment import clean_environment
from tests.support.servers import free_port

ROUTES = (
    ("bare route", "/bare", 1),
    (FLOOR_LABEL, FLOOR_PATH, 1),
    ("CurrentUser", "/me", 1),
)
MANY_SESSIONS = ("CurrentUser", "/me", 10_000)
_COLLECTED = re.compile(r"Collected : (\d+)")
SLOWDOWN = 50
"""About how much slower a Python server runs under callgrind (seen here: 57x for one request)."""


@dataclass(frozen=True)
class Count:
    """Instructions per request of one route, with this many distinct sessions taking turns."""

    label: str
    path: str
    sessions: int
    per_request: float


def serve_and_count(
    work: Path, database_url: str, tokens: list[str], path: str, requests: int
) -> int:
    """Every instruction uvicorn ran, from start to stop, to serve ``requests`` of ``path``."""
    port = free_port()
    env = clean_environment(
        **bench_app_environment(database_url),
        KAVACH_SESSION_CACHE_SECONDS=str(SLOWDOWN),  # 1 s at full speed (the module's docstring)
        PYTHONHASHSEED="0",
    )
    log = work / f"callgrind-{path.strip('/')}-{requests}.log"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "uvicorn",
        APP_FACTORY,
        "--factory",
        "--app-dir",
        str(APP_DIR),
        "--port",
        str(port),
        "--loop",
        "asyncio",
        "--http",
        "h11",
        "--log-level",
        "warning",
    ]
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        _drive(f"http://127.0.0.1:{port}", tokens, path, requests)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=300)
    found = _COLLECTED.search(log.read_text())
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{log.read_text()[-2000:]}")
    return int(found.group(1))


def _drive(base: str, tokens: list[str], path: str, requests: int) -> None:
    deadline = time.monotonic() + 600
    with httpx2.Client(base_url=base, timeout=600, trust_env=False) as client:
        while True:
            try:
                client.get("/bare")
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        client.post("/warm", json=tokens).raise_for_status()
        for number in range(requests + 100):  # the first hundred warm this route up
            token = tokens[number % len(tokens)]
            answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
            answer.raise_for_status()


async def count_route(
    work: Path, label: str, path: str, sessions: int, few: int, many: int
) -> Count:
    """Instructions per request of ``path``, from a server run of ``few`` and one of ``many``."""
    database = work / f"{path.strip('/')}-{sessions}.db"
    url = sqlite_url(database)
    await upgrade_schema(url)
    seeded = await seed_sessions(url, sessions, users=max(1, sessions // 10), keep_tokens=sessions)
    small, large = await asyncio.gather(
        asyncio.to_thread(serve_and_count, work, url, seeded.tokens, path, few),
        asyncio.to_thread(serve_and_count, work, url, seeded.tokens, path, many),
    )
    return Count(label, path, sessions, (large - small) / (many - few))


async def run(few: int, many: int, routes: Sequence[tuple[str, str, int]]) -> list[Count]:
    counts: list[Count] = []
    with scratch_dir("kavach-instructions-") as work:
        for label, path, sessions in routes:
            counts.append(await count_route(work, label, path, sessions, few, many))
            print(f"  {label} ({sessions:,} sessions): {counts[-1].per_request:,.0f}", flush=True)
    return counts


def report(counts: Sequence[Count]) -> None:
    bare = next(count.per_request for count in counts if count.path == "/bare")
    floor = next(count.per_request for count in counts if count.path == FLOOR_PATH)
    rows = [
        [
            count.label,
            f"{count.sessions:,}",
            f"{count.per_request:,.0f}",
            f"{count.per_request - bare:+,.0f}",
            f"{bare / count.per_request:.3f}",
            f"{floor / count.per_request:.3f}" if count.path == "/me" else "",
        ]
        for count in counts
    ]
    print(
        "\n== Instructions per request through uvicorn (asyncio, h11), SQLite, callgrind; "
        "ratio = bare / route; over the floor = floor / route =="
    )
    print(table(["route", "sessions", "instructions", "vs bare", "ratio", "over the floor"], rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--few", type=int, default=500, help="requests of the short run")
    parser.add_argument("--many", type=int, default=2500, help="requests of the long run")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed: apt-get install -y valgrind")
    print(f"instructions benchmark: load average {os.getloadavg()[0]:.1f} (does not matter here)")
    counts = asyncio.run(run(args.few, args.many, (*ROUTES, MANY_SESSIONS)))
    report(counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
