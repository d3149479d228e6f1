"""Refresh storm: many requests meet one expired Atlassian token at once.

For N concurrent requests (10, 100, 1000) across W uvicorn workers (1, 4) on one SQLite file,
this measures how many refreshes reach Atlassian per expiry (the target is exactly 1) and how much
latency the requests that wait for that refresh add, compared with a baseline run of the same N
requests with a fresh token, measured in the same run. It prints ratios; it asserts nothing.

The Atlassian emulator is served on a loopback socket in this process (with a latency on the
refresh, as the real token endpoint has), and the app, the tests' served app, runs as
``uvicorn tests.support.apps:create_app --factory --workers W`` in a subprocess, started,
waited for and stopped by the tests' runner (``tests/support/servers.py``)::

    python -m bench.refresh_storm            # the whole table (about two minutes)
    python -m bench.refresh_storm --quick    # N in (10, 100), one expiry each
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator, Fault
from tests.support.apps import app_environment, register_callback
from tests.support.browser import session_cookie, sign_in
from tests.support.servers import uvicorn_workers, wait_for_workers

FACTORY = "tests.support.apps:create_app"
REQUESTS = (10, 100, 1000)
WORKERS = (1, 4)


@contextmanager
def serve_app(workers: int, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """Run the app under uvicorn with ``workers`` processes; always stopped afterwards."""
    with uvicorn_workers(
        FACTORY,
        workers=workers,
        env=env,
        log=log,
        # Longer than any run, so no keep-alive connection is closed under a request.
        options=["--backlog", "4096", "--timeout-keep-alive", "300"],
    ) as url:
        yield url


# The person and their token


async def _sign_in(app_url: str) -> str:
    async with httpx2.AsyncClient(base_url=app_url, timeout=10.0, trust_env=False) as browser:
        await sign_in(browser)  # the emulator is served with auto_consent
        session = session_cookie(browser)
    if session is None:
        raise RuntimeError("sign-in failed: no session cookie")
    return session


def _expire_token(database: Path) -> None:
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE kavach_accounts SET access_token_expires_at = ?", (past,))


# Measuring


@dataclass(frozen=True)
class Run:
    """One burst of N concurrent requests."""

    latencies: list[float]
    failures: int
    reasons: Counter[str]
    tokens: int
    processes: int

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Connection:
    """One keep-alive HTTP/1.1 connection that sends ``GET /token`` as the signed-in person.

    A plain asyncio stream rather than an HTTP client library: with a thousand requests at
    once, the client's own cost per request would otherwise dominate what is measured.
    """

    def __init__(self, host: str, port: int, session: str) -> None:
        self._address = (host, port)
        self._request = (
            f"GET /token HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {session}\r\nAccept: application/json\r\n\r\n"
        ).encode()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get_token(self) -> tuple[float, dict[str, Any] | str]:
        """Seconds the request took, and the JSON answer or why it failed."""
        start = time.perf_counter()
        try:
            if self._streams is None:
                self._streams = await asyncio.open_connection(*self._address)
            reader, writer = self._streams
            writer.write(self._request)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines if ": " in line)
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            return time.perf_counter() - start, type(exc).__name__
        elapsed = time.perf_counter() - start
        status = status_line.split(" ", 2)[1]
        if status != "200":
            return elapsed, f"HTTP {status}"
        answer: dict[str, Any] = json.loads(body)
        return elapsed, answer

    async def close(self) -> None:
        """Close the connection, if open."""
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _burst(connections: Sequence[Connection]) -> Run:
    results = await asyncio.gather(*(connection.get_token() for connection in connections))
    good = [answer for _, answer in results if isinstance(answer, dict)]
    return Run(
        latencies=[elapsed for elapsed, _ in results],
        failures=len(results) - len(good),
        reasons=Counter(answer for _, answer in results if isinstance(answer, str)),
        tokens=len({answer["token"] for answer in good}),
        processes=len({answer["pid"] for answer in good}),
    )


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    requests: int
    workers: int
    expiries: int
    refreshes: int
    baseline: Run
    storm: Run


async def _measure(
    app_url: str,
    session: str,
    database: Path,
    emu: AtlassianEmulator,
    *,
    requests: int,
    workers: int,
    expiries: int,
    refresh_latency: float,
) -> Row:
    address = httpx2.URL(app_url)
    connections = [Connection(address.host, address.port or 80, session) for _ in range(requests)]
    try:
        await _burst(connections)  # opens the connections and warms every worker
        baseline: list[Run] = []
        storms: list[Run] = []
        refreshes = 0
        for _ in range(expiries):
            baseline.append(await _burst(connections))
            _expire_token(database)
            if refresh_latency > 0:
                emu.faults.add("refresh", Fault("latency", seconds=refresh_latency, times=1))
            before = emu.calls["refresh"]
            storms.append(await _burst(connections))
            refreshes += emu.calls["refresh"] - before
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    return Row(requests, workers, expiries, refreshes, _merge(baseline), _merge(storms))


def _merge(runs: Sequence[Run]) -> Run:
    return Run(
        latencies=[latency for run in runs for latency in run.latencies],
        failures=sum(run.failures for run in runs),
        reasons=sum((run.reasons for run in runs), Counter()),
        tokens=max(run.tokens for run in runs),
        processes=max(run.processes for run in runs),
    )


async def _bench_workers(
    emu: AtlassianEmulator,
    emulator_url: str,
    workers: int,
    requests: Sequence[int],
    *,
    expiries: int,
    refresh_latency: float,
    folder: Path,
) -> list[Row]:
    database = folder / f"kavach-{workers}.db"
    env = app_environment(
        f"sqlite:///{database}", emu, emulator_url, secret=secrets.token_urlsafe(32)
    )
    with serve_app(workers, env, folder / f"uvicorn-{workers}.log") as app_url:
        register_callback(emu, app_url)
        answering = len(await asyncio.to_thread(wait_for_workers, app_url, workers))
        if answering < workers:
            print(f"note: only {answering} of {workers} workers answered before the runs")
        session = await _sign_in(app_url)
        return [
            await _measure(
                app_url,
                session,
                database,
                emu,
                requests=count,
                workers=workers,
                expiries=expiries,
                refresh_latency=refresh_latency,
            )
            for count in requests
        ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def print_table(rows: Sequence[Row], refresh_latency: float) -> None:
    """The results, one line per (N, W)."""
    print(
        f"\nrefresh storm: the emulator answers each refresh after {refresh_latency * 1000:.0f} ms;"
        " latencies in ms, storm = requests that met the expired token,"
        " baseline = the same requests with a fresh token"
    )
    header = (
        f"{'N':>5} {'W':>2} {'expiries':>8} {'refresh/expiry':>14} {'failed':>6} {'tokens':>6}"
        f" {'procs':>5} | {'p50':>8} {'p99':>8} {'max':>8} | {'base p50':>8} {'base p99':>8}"
        f" | {'p50 x':>6} {'p99 x':>6} {'added p50':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        storm, base = row.storm, row.baseline
        p50, p99 = storm.percentile(0.5), storm.percentile(0.99)
        b50, b99 = base.percentile(0.5), base.percentile(0.99)
        print(
            f"{row.requests:>5} {row.workers:>2} {row.expiries:>8}"
            f" {row.refreshes / row.expiries:>14.2f} {storm.failures + base.failures:>6}"
            f" {storm.tokens:>6} {storm.processes:>5} |"
            f" {_ms(p50)} {_ms(p99)} {_ms(max(storm.latencies))} | {_ms(b50)} {_ms(b99)} |"
            f" {p50 / b50:>6.2f} {p99 / b99:>6.2f} {_ms(p50 - b50)} "
        )
    for row in rows:
        reasons = row.storm.reasons + row.baseline.reasons
        if reasons:
            listed = ", ".join(f"{count} x {reason}" for reason, count in reasons.most_common())
            print(f"failed at N={row.requests} W={row.workers}: {listed}")


async def run(
    requests: Sequence[int], workers: Sequence[int], *, expiries: int, refresh_latency: float
) -> list[Row]:
    """Benchmark every (N, W) and return the rows."""
    emu = AtlassianEmulator(auto_consent=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="refresh-storm-") as folder, emu.serve() as url:
        for count in workers:
            rows += await _bench_workers(
                emu,
                url,
                count,
                requests,
                expiries=expiries,
                refresh_latency=refresh_latency,
                folder=Path(folder),
            )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="N in (10, 100), one expiry each")
    parser.add_argument("--expiries", type=int, default=3, help="expiries per (N, W)")
    parser.add_argument(
        "--refresh-latency",
        type=float,
        default=0.2,
        help="seconds the emulator takes to answer a refresh (default 0.2)",
    )
    options = parser.parse_args(argv)
    requests = REQUESTS[:2] if options.quick else REQUESTS
    expiries = 1 if options.quick else options.expiries
    started = time.monotonic()
    load = os.getloadavg()
    rows = asyncio.run(
        run(requests, WORKERS, expiries=expiries, refresh_latency=options.refresh_latency)
    )
    print_table(rows, options.refresh_latency)
    print(f"\n{time.monotonic() - started:.0f} s in all; target: refresh/expiry = 1.00")
    print(
        f"load average (1, 5, 15 min) before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
        + " ".join(f"{value:.2f}" for value in os.getloadavg())
    )


if __name__ == "__main__":
    main()
