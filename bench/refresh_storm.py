"""Refresh storm: many requests meet one expired Atlassian token at once.

For N concurrent requests (10, 100, 1000) across W uvicorn workers (1, 4) on one SQLite file,
this measures how many refreshes reach Atlassian per expiry (the target is exactly 1) and how much
latency the requests that wait for that refresh add, compared with a baseline run of the same N
requests with a fresh token, measured in the same run. It prints ratios; it asserts nothing.

The Atlassian emulator is served on a loopback socket in this process (with a latency on the
refresh, as the real token endpoint has), and the app runs as
``uvicorn bench.refresh_storm:create_app --factory --workers W`` in a subprocess::

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
import signal
import socket
import sqlite3
import subprocess
import sys
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
from fastapi import FastAPI

from kavach_fastapi import AtlassianToken, atlassian_provider, kavach_router
from kavach_fastapi.emulator import AtlassianEmulator, Fault

PREFIX = "/api/kavach"
ROOT = Path(__file__).resolve().parents[1]
REQUESTS = (10, 100, 1000)
WORKERS = (1, 4)


def create_app() -> FastAPI:
    """The benchmarked app (one per worker): the router and a route that needs a token."""
    app = FastAPI()
    provider = atlassian_provider(scopes=["read:jira-user"])
    app.include_router(kavach_router([provider]), prefix=PREFIX)

    @app.get("/token")
    async def token(access_token: AtlassianToken) -> dict[str, str | int]:
        return {"token": access_token, "pid": os.getpid()}

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app


# The server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(workers: int, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """Run the app under uvicorn with ``workers`` processes; always stopped afterwards."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.refresh_storm:create_app",
        "--factory",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backlog",
        "4096",
        # Longer than any run, so no keep-alive connection is closed under a request.
        "--timeout-keep-alive",
        "300",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_ready(url, process, log)
            yield url
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)  # not reaped: the group is ours
                    process.wait(timeout=15)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    with httpx2.Client(base_url=url, timeout=2.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{log.read_text()}")
            try:
                if client.get("/pid").status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start:\n{log.read_text()}")
            time.sleep(0.1)


async def _wait_for_workers(url: str, workers: int) -> int:
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    async with httpx2.AsyncClient(base_url=url, timeout=5.0, trust_env=False) as client:
        while len(seen) < workers and time.monotonic() < deadline:
            answers = await asyncio.gather(
                *(client.get("/pid", headers={"Connection": "close"}) for _ in range(4 * workers)),
                return_exceptions=True,
            )
            seen.update(
                int(answer.json()["pid"])
                for answer in answers
                if isinstance(answer, httpx2.Response) and answer.status_code == 200
            )
    return len(seen)


# The person and their token


async def _sign_in(app_url: str) -> str:
    async with httpx2.AsyncClient(timeout=10.0, trust_env=False) as browser:
        started = await browser.get(f"{app_url}{PREFIX}/auth/oauth/authorize/atlassian")
        consent = await browser.get(started.headers["location"])
        finished = await browser.get(consent.headers["location"])
        if finished.status_code != 303 or "kavach_session" not in finished.cookies:
            raise RuntimeError(f"sign-in failed: {finished.status_code} {finished.text}")
        return str(finished.cookies["kavach_session"])


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
    env = {
        "KAVACH_DATABASE_URL": f"sqlite:///{database}",
        "KAVACH_SECRET": secrets.token_urlsafe(32),
        "KAVACH_RATE_LIMIT": "0",
        "ATLASSIAN_CLIENT_ID": emu.default_client.client_id,
        "ATLASSIAN_CLIENT_SECRET": emu.default_client.client_secret,
        "ATLASSIAN_AUTH_URL": emulator_url,
        "ATLASSIAN_API_URL": emulator_url,
    }
    with serve_app(workers, env, folder / f"uvicorn-{workers}.log") as app_url:
        emu.default_client.redirect_uris.append(f"{app_url}{PREFIX}/auth/oauth/callback/atlassian")
        answering = await _wait_for_workers(app_url, workers)
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
    rows = asyncio.run(
        run(requests, WORKERS, expiries=expiries, refresh_latency=options.refresh_latency)
    )
    print_table(rows, options.refresh_latency)
    print(f"\n{time.monotonic() - started:.0f} s in all; target: refresh/expiry = 1.00")


if __name__ == "__main__":
    main()
