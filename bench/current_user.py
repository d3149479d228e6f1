"""How much ``CurrentUser`` costs: a bare route against a route behind it, in one run.

For SQLite and for PostgreSQL (skipped, with the reason, when the server at 127.0.0.1:5432 cannot
be reached) this benchmark:

1. makes scratch databases (SQLite files; ``kavach_bench_<random>`` databases made through the
   ``postgres`` maintenance database and dropped at the end) and upgrades them;
2. bulk-inserts 1,000 sessions into one and 1,000,000 into the other, then times
   ``Store.find_session`` (the package's one indexed lookup, without the process cache) over
   random existing tokens of each, interleaved, and prints the cost per lookup and the ratio
   1M / 1k, beside the same SQL through the bare driver;
3. serves ``bench/apps/kavach_bench_app.py`` with uvicorn (a subprocess) and loads ``GET /bare``
   and ``GET /me`` (``CurrentUser``, Bearer session tokens) with the same load generator (wrk,
   else a Python one), alternating the routes round by round: first with the session cache at
   its default (1 s), with one session and with 100 sessions taking turns, then on a second
   server with ``KAVACH_SESSION_CACHE_SECONDS=0``.

It prints req/s, p50 and p99 of each route, the server's CPU time per request, and the ratios
authenticated / bare by throughput and by CPU time (the second holds up when other work shares
the machine). Nothing is asserted about time. Run from the repository::

    .venv/bin/python -m bench.current_user            # about 4 minutes on 2 cores
    .venv/bin/python -m bench.current_user --quick    # about 1 minute
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2
from sqlalchemy.engine import make_url

from bench._common import (
    BENCH_SECRET,
    LoadResult,
    SeededSessions,
    Server,
    mark,
    median,
    postgres_databases,
    postgres_unavailable,
    run_python_load,
    run_wrk,
    scratch_dir,
    seed_sessions,
    sqlite_url,
    table,
    upgrade_schema,
    uvicorn_app,
    uvicorn_flavour,
    wrk_path,
)
from kavach_fastapi.store import Store

TARGET_RATIO = 0.85
TARGET_GROWTH = 1.2
SESSIONS_PER_USER = 10
LOOKUP_CHUNK = 50
"""Lookups timed in one go before the other table takes its turn."""
LOAD_TOKENS = 100
"""Sessions that take turns in the many-sessions load (each request carries the next one)."""

_FIND_SESSION_SQL = (
    "SELECT s.token_hash, s.user_id, s.created_at, s.expires_at, s.last_active_at, u.id, u.email,"
    " u.name FROM kavach_sessions AS s JOIN kavach_users AS u ON u.id = s.user_id"
    " WHERE s.token_hash = {param}"
)


@dataclass(frozen=True)
class Options:
    """The command line, parsed."""

    workers: int
    connections: int
    seconds: float
    rounds: int
    warmup: float
    small: int
    big: int
    lookups: int
    load: str
    databases: tuple[str, ...]


@dataclass(frozen=True)
class Load:
    """One thing to load: a path, with the session tokens its requests take turns with."""

    key: str
    label: str
    path: str
    tokens: int


@dataclass(frozen=True)
class ServerSetup:
    """One server of the app: its session cache setting and what is loaded on it."""

    title: str
    cache_seconds: str | None
    """``KAVACH_SESSION_CACHE_SECONDS``; ``None`` keeps the default (1 s)."""
    loads: tuple[Load, ...]

    @property
    def bare(self) -> str:
        """The key of this server's bare route, which its ratios compare with."""
        return self.loads[0].key


def _bare(suffix: str) -> Load:
    return Load(f"bare{suffix}", "GET /bare (no dependency)", "/bare", LOAD_TOKENS)


def _me(suffix: str, tokens: int) -> Load:
    sessions = "1 session" if tokens == 1 else f"{tokens} sessions"
    return Load(f"me-{tokens}{suffix}", f"GET /me (CurrentUser), {sessions}", "/me", tokens)


SERVERS = (
    ServerSetup(
        "server 1: session cache 1 s (the default)",
        None,
        (_bare(""), _me("", 1), _me("", LOAD_TOKENS)),
    ),
    ServerSetup(
        "server 2: KAVACH_SESSION_CACHE_SECONDS=0 (a lookup per request)",
        "0",
        (_bare("-off"), _me("-off", LOAD_TOKENS)),
    ),
    ServerSetup(
        "server 3: KAVACH_SESSION_CACHE_SECONDS=3600 (every request a cache hit)",
        "3600",
        (_bare("-hit"), _me("-hit", LOAD_TOKENS)),
    ),
)
ONE, MANY = "me-1", f"me-{LOAD_TOKENS}"


@dataclass
class LookupResult:
    """Cost of one lookup, in microseconds, per number of stored sessions."""

    wall_us: dict[int, float] = field(default_factory=dict)
    cpu_us: dict[int, float] = field(default_factory=dict)
    raw_us: dict[int, float] = field(default_factory=dict)
    plan: str = ""

    def growth(self, small: int, big: int) -> float:
        """Lookup time with ``big`` sessions stored over that with ``small``."""
        return self.wall_us[big] / self.wall_us[small]


@dataclass
class HttpResult:
    """The load runs, per :class:`Load` key; medians are reported."""

    runs: dict[str, list[LoadResult]] = field(default_factory=dict)

    def add(self, key: str, result: LoadResult) -> None:
        """Record one run."""
        self.runs.setdefault(key, []).append(result)

    def rps(self, key: str) -> float:
        """Median requests per second."""
        return median([r.rps for r in self.runs[key]])

    def p50(self, key: str) -> float:
        """Median of the runs' p50 latency, ms."""
        return median([r.p50_ms for r in self.runs[key]])

    def p99(self, key: str) -> float:
        """Median of the runs' p99 latency, ms."""
        return median([r.p99_ms for r in self.runs[key]])

    def cpu_us(self, key: str) -> float:
        """Median server CPU time per request, microseconds."""
        return median([r.server_cpu_us for r in self.runs[key]])

    def failures(self, key: str) -> int:
        """Failed requests over every run."""
        return sum(r.failures for r in self.runs[key])

    def ratio(self, key: str, bare: str) -> float:
        """Throughput of ``key`` over that of ``bare``."""
        return self.rps(key) / self.rps(bare)

    def cpu_ratio(self, key: str, bare: str) -> float:
        """CPU per request of ``bare`` over that of ``key`` (the throughput ratio if CPU-bound)."""
        return self.cpu_us(bare) / self.cpu_us(key)


@dataclass
class BackendResult:
    """Everything measured on one database."""

    name: str
    lookup: LookupResult = field(default_factory=LookupResult)
    http: HttpResult = field(default_factory=HttpResult)
    skipped: str | None = None


# Session lookups without the cache


async def time_lookups(store: Store, hashes: Sequence[str]) -> tuple[float, float]:
    """Wall and CPU microseconds per ``Store.find_session`` over ``hashes``, one at a time."""
    began, cpu = time.perf_counter(), time.process_time()
    for token_hash in hashes:
        if await store.sessions.find_session(token_hash) is None:
            raise RuntimeError("a stored session was not found")
    count = len(hashes)
    return (
        (time.perf_counter() - began) / count * 1e6,
        (time.process_time() - cpu) / count * 1e6,
    )


def _sqlite_raw(path: str, hashes: Sequence[str]) -> tuple[float, str]:
    connection = sqlite3.connect(path)
    try:
        sql = _FIND_SESSION_SQL.format(param="?")
        explained = connection.execute(f"EXPLAIN QUERY PLAN {sql}", (hashes[0],))
        plan = " / ".join(str(row[-1]) for row in explained)
        for token_hash in hashes:  # warm the page cache, as the package's pass did
            connection.execute(sql, (token_hash,)).fetchone()
        began = time.perf_counter()
        for token_hash in hashes:
            if connection.execute(sql, (token_hash,)).fetchone() is None:
                raise RuntimeError("a stored session was not found")
        return (time.perf_counter() - began) / len(hashes) * 1e6, plan
    finally:
        connection.close()


async def _postgres_raw(url: str, hashes: Sequence[str]) -> tuple[float, str]:
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - optional extra

    connection = await asyncpg.connect(url)
    try:
        sql = _FIND_SESSION_SQL.format(param="$1")
        rows = await connection.fetch(f"EXPLAIN {sql}", hashes[0])
        plan = " / ".join(str(row[0]).strip() for row in rows)
        statement = await connection.prepare(sql)
        for token_hash in hashes:
            await statement.fetchrow(token_hash)
        began = time.perf_counter()
        for token_hash in hashes:
            if await statement.fetchrow(token_hash) is None:
                raise RuntimeError("a stored session was not found")
        return (time.perf_counter() - began) / len(hashes) * 1e6, plan
    finally:
        await connection.close()


async def measure_lookups(
    urls: dict[int, str], seeded: dict[int, SeededSessions], options: Options
) -> LookupResult:
    """Time find_session on each database, interleaving them round by round."""
    result = LookupResult()
    rng = random.Random(7)
    # Drawn with replacement: the small table has fewer sessions than a round has lookups.
    samples = {n: rng.choices(s.token_hashes, k=options.lookups) for n, s in seeded.items()}
    stores = {n: Store(url) for n, url in urls.items()}
    try:
        for n, store in stores.items():
            await time_lookups(store, samples[n])  # warm-up: pool, compiled SQL, page cache
        wall: dict[int, list[float]] = {n: [] for n in urls}
        cpu: dict[int, list[float]] = {n: [] for n in urls}
        for _ in range(options.rounds):
            # Small chunks, taking turns, so that whatever else the machine does falls on both.
            spent = dict.fromkeys(urls, 0.0)
            used = dict.fromkeys(urls, 0.0)
            for number, start in enumerate(range(0, options.lookups, LOOKUP_CHUNK)):
                turns = list(stores.items())
                for n, store in turns if number % 2 == 0 else reversed(turns):
                    chunk = samples[n][start : start + LOOKUP_CHUNK]
                    chunk_wall, chunk_cpu = await time_lookups(store, chunk)
                    spent[n] += chunk_wall * len(chunk)
                    used[n] += chunk_cpu * len(chunk)
            for n in urls:
                wall[n].append(spent[n] / len(samples[n]))
                cpu[n].append(used[n] / len(samples[n]))
        result.wall_us = {n: median(values) for n, values in wall.items()}
        result.cpu_us = {n: median(values) for n, values in cpu.items()}
    finally:
        for store in stores.values():
            await store.dispose()
    for n, url in urls.items():
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            assert parsed.database is not None
            raw, plan = await asyncio.to_thread(_sqlite_raw, parsed.database, samples[n])
        else:
            raw, plan = await _postgres_raw(url, samples[n])
        result.raw_us[n] = raw
        result.plan = plan
    return result


# The routes under load


async def load(
    server: Server, path: str, tokens: Sequence[str], options: Options, seconds: float, work: Path
) -> LoadResult:
    """One load run of one path with the chosen generator, and the server's CPU time."""
    url = f"{server.url}{path}"
    cpu_before = server.cpu_seconds()
    if options.load == "wrk":
        result = await asyncio.to_thread(
            run_wrk,
            url,
            tokens=tokens,
            connections=options.connections,
            seconds=seconds,
            script_dir=work,
        )
    else:
        result = await run_python_load(
            url, tokens=tokens, connections=options.connections, seconds=seconds
        )
    used = server.cpu_seconds() - cpu_before
    return dataclasses.replace(result, server_cpu_us=used / max(result.requests, 1) * 1e6)


async def check_routes(base: str, tokens: Sequence[str]) -> None:
    """The routes answer as they should; every session is used once, one after another.

    Using each session once before any concurrent load means the load starts as a running app
    would, not with a cold cache: concurrent requests for a session that is not cached yet each
    look it up (there is no single flight per session), which can keep the cache missing for
    seconds under load.
    """
    async with httpx2.AsyncClient(base_url=base, timeout=10, trust_env=False) as client:
        bare = await client.get("/bare")
        anonymous = await client.get("/me")
        for token in tokens:
            me = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            if me.status_code != 200:
                raise RuntimeError(f"GET /me with a stored session answered {me.status_code}")
    if bare.status_code != 200 or anonymous.status_code != 401:
        raise RuntimeError(
            f"unexpected answers: /bare {bare.status_code}, "
            f"/me without a token {anonymous.status_code}"
        )


async def measure_http(
    database_url: str, tokens: Sequence[str], options: Options, work: Path, label: str
) -> HttpResult:
    """Serve the app twice (cache on, cache off); load its routes in alternating rounds."""
    result = HttpResult()
    for setup in SERVERS:
        env = {
            "KAVACH_DATABASE_URL": database_url,
            "KAVACH_SECRET": BENCH_SECRET,
            "ATLASSIAN_CLIENT_ID": "bench-client",
            "ATLASSIAN_CLIENT_SECRET": "bench-secret",
        }
        if setup.cache_seconds is not None:
            env["KAVACH_SESSION_CACHE_SECONDS"] = setup.cache_seconds
        log = work / f"uvicorn-{label}-cache-{setup.cache_seconds or 'default'}.log"
        with uvicorn_app(workers=options.workers, env=env, log=log) as server:
            await check_routes(server.url, tokens)
            for item in setup.loads:
                await load(server, item.path, tokens[: item.tokens], options, options.warmup, work)
            for _ in range(options.rounds):
                for item in setup.loads:
                    measured = await load(
                        server, item.path, tokens[: item.tokens], options, options.seconds, work
                    )
                    result.add(item.key, measured)
        text = log.read_text()
        for trouble in ("database is locked", "Traceback"):
            if trouble in text:
                print(f"  note: {trouble!r} appears in the server log {log.name}")
    return result


# One database


async def run_backend(
    name: str, urls: dict[int, str], options: Options, work: Path
) -> BackendResult:
    """Seed, time the lookups, then load the routes, on one kind of database."""
    print(f"\n== {name} ==", flush=True)
    for url in urls.values():
        await upgrade_schema(url)
    seeded: dict[int, SeededSessions] = {}
    for n, url in urls.items():
        users = max(1, n // SESSIONS_PER_USER)
        seeded[n] = await seed_sessions(url, n, users=users, keep_tokens=LOAD_TOKENS)
        print(
            f"  stored {n:,} sessions of {users:,} users in {seeded[n].seconds:.1f} s", flush=True
        )
    lookup = await measure_lookups(urls, seeded, options)
    print("  timed the lookups; loading the routes ...", flush=True)
    http = await measure_http(
        urls[options.small], seeded[options.small].tokens, options, work, name.lower()
    )
    result = BackendResult(name=name, lookup=lookup, http=http)
    report_backend(result, options)
    return result


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def _target(value: float, target: float, *, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    sign = ">=" if at_least else "<="
    return f"target {sign} {target}: {'met' if met else 'NOT met'}"


def report_backend(result: BackendResult, options: Options) -> None:
    """Print the tables of one database."""
    http = result.http
    print(
        f"\n  HTTP: {options.workers} uvicorn worker(s) ({uvicorn_flavour()}); load "
        f"{_describe_load(options)}; {options.rounds} round(s) of {options.seconds:g} s per "
        "route, routes alternating; medians. CPU = the server's CPU time per request."
    )
    rows: list[list[object]] = []
    for setup in SERVERS:
        rows.append([setup.title, "", "", "", "", "", "", ""])
        for item in setup.loads:
            rows.append(
                [
                    f"  {item.label}",
                    f"{http.rps(item.key):,.0f}",
                    _ms(http.p50(item.key)),
                    _ms(http.p99(item.key)),
                    f"{http.cpu_us(item.key):.0f} us",
                    f"{http.ratio(item.key, setup.bare):.2f}",
                    f"{http.cpu_ratio(item.key, setup.bare):.2f}",
                    http.failures(item.key),
                ]
            )
    headers = ["route", "req/s", "p50", "p99", "CPU", "vs bare", "vs bare (CPU)", "failed"]
    print(_indent(table(headers, rows)))
    one = http.ratio(ONE, "bare")
    print(
        f"  ratio authenticated / bare with the default cache: {one:.2f} with 1 session "
        f"({_target(one, TARGET_RATIO, at_least=True)}; by CPU {http.cpu_ratio(ONE, 'bare'):.2f}), "
        f"{http.ratio(MANY, 'bare'):.2f} with {LOAD_TOKENS} sessions (by CPU "
        f"{http.cpu_ratio(MANY, 'bare'):.2f}); cache off: {http.ratio(MANY + '-off', 'bare-off'):.2f}"
        f"; every request a hit: {http.ratio(MANY + '-hit', 'bare-hit'):.2f}"
    )
    lookup = result.lookup
    small, big = options.small, options.big
    print(
        f"\n  Session lookup without the process cache: {options.lookups:,} random existing "
        f"tokens per round and table, {options.rounds} round(s), the tables taking turns every "
        f"{LOOKUP_CHUNK} lookups in ABBA order (medians), after a "
        "warm-up pass; one lookup at a time"
    )
    lookup_rows: list[list[object]] = [
        [
            f"{n:,}",
            f"{lookup.wall_us[n]:.0f} us",
            f"{lookup.cpu_us[n]:.0f} us",
            f"{lookup.raw_us[n]:.1f} us",
        ]
        for n in (small, big)
    ]
    growth = lookup.growth(small, big)
    lookup_rows.append(
        [
            f"ratio {_count(big)}/{_count(small)}",
            f"{growth:.2f}",
            f"{lookup.cpu_us[big] / lookup.cpu_us[small]:.2f}",
            f"{lookup.raw_us[big] / lookup.raw_us[small]:.2f}",
        ]
    )
    headers = ["sessions stored", "Store.find_session", "its CPU", "same SQL, bare driver"]
    print(_indent(table(headers, lookup_rows)))
    print(
        f"  ratio {_count(big)}/{_count(small)} = {growth:.2f} "
        f"({_target(growth, TARGET_GROWTH, at_least=False)})"
    )
    print(f"  query plan: {lookup.plan}")


def _count(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _describe_load(options: Options) -> str:
    if options.load == "wrk":
        return f"wrk -t1 -c{options.connections}"
    return f"Python asyncio, {options.connections} keep-alive connections"


def report_summary(results: Sequence[BackendResult], options: Options) -> None:
    """One table with the ratios of every database."""
    print(
        "\n== Summary: authenticated / bare, by throughput; by CPU time, measured in this run "
        "(default cache unless said) =="
    )
    rows: list[list[object]] = []
    for result in results:
        if result.skipped is not None:
            rows.append([result.name, "skipped", "", "", "", "", ""])
            continue
        http = result.http
        one = http.ratio(ONE, "bare")
        growth = result.lookup.growth(options.small, options.big)
        rows.append(
            [
                result.name,
                f"{one:.2f}; {http.cpu_ratio(ONE, 'bare'):.2f} ({mark(one >= TARGET_RATIO)})",
                f"{http.ratio(MANY, 'bare'):.2f}; {http.cpu_ratio(MANY, 'bare'):.2f}",
                f"{http.ratio(MANY + '-off', 'bare-off'):.2f}; "
                f"{http.cpu_ratio(MANY + '-off', 'bare-off'):.2f}",
                f"{http.ratio(MANY + '-hit', 'bare-hit'):.2f}; "
                f"{http.cpu_ratio(MANY + '-hit', 'bare-hit'):.2f}",
                f"{growth:.2f} ({mark(growth <= TARGET_GROWTH)})",
                f"{result.lookup.wall_us[options.small]:.0f} us",
            ]
        )
    print(
        table(
            [
                "database",
                f"1 session (>= {TARGET_RATIO})",
                f"{LOAD_TOKENS} sessions",
                "cache off",
                "all hits",
                f"lookup {_count(options.big)}/{_count(options.small)} (<= {TARGET_GROWTH})",
                "one lookup",
            ],
            rows,
        )
    )
    for result in results:
        if result.skipped is not None:
            print(f"{result.name} skipped: {result.skipped}")
    print(
        "For scale (from the issue): fastapi-users' database-session dependency measures about "
        "0.08 of a bare route on this machine; a signed cookie that cannot be revoked about 0.9."
    )


# Command line


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.current_user",
        description=(
            "Measure a route behind CurrentUser against a bare route (same app, same load "
            "generator, one run), with the session cache on and off, and the cost of a session "
            "lookup with 1k and 1M sessions stored, on SQLite and on PostgreSQL. Prints ratios; "
            "asserts nothing about time."
        ),
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default: 1)")
    parser.add_argument(
        "--connections", type=int, default=50, help="concurrent connections (default: 50)"
    )
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="length of one measured load run (default: 3)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; medians are printed (default: 3)"
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=1_000_000,
        help="sessions in the big table (default: 1000000)",
    )
    parser.add_argument(
        "--lookups", type=int, default=1_000, help="lookups per round and table (default: 1000)"
    )
    parser.add_argument(
        "--load",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk if installed, else a Python one (default: auto)",
    )
    parser.add_argument(
        "--install-wrk",
        action="store_true",
        help="run `apt-get install -y wrk` first when wrk is missing",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        action="append",
        help="only this database (repeatable; default: both)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 round of 2 s, 100,000 sessions in the big table, 500 lookups (about a minute)",
    )
    args = parser.parse_args(argv)
    if args.install_wrk and wrk_path() is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False)  # noqa: S607
    load = args.load
    if load == "auto":
        load = "wrk" if wrk_path() is not None else "python"
        if load == "python":
            print(
                "wrk is not installed (apt-get install -y wrk, or pass --install-wrk): using the "
                "slower Python load generator, in this process; only its ratios mean much."
            )
    elif load == "wrk" and wrk_path() is None:
        parser.error("wrk is not installed: apt-get install -y wrk")
    quick = bool(args.quick)
    return Options(
        workers=args.workers,
        connections=args.connections,
        seconds=2.0 if quick else args.seconds,
        rounds=1 if quick else args.rounds,
        warmup=1.0,
        small=1_000,
        big=100_000 if quick else args.sessions,
        lookups=500 if quick else args.lookups,
        load=load,
        databases=tuple(args.database or ("sqlite", "postgresql")),
    )


def _load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


async def run(options: Options) -> list[BackendResult]:
    """Every measurement, database by database."""
    results: list[BackendResult] = []
    began = time.monotonic()
    print(
        f"current_user benchmark: Python {sys.version.split()[0]}; {options.workers} uvicorn "
        f"worker(s); load {_describe_load(options)}; big table {options.big:,} sessions; "
        f"load average {_load_average()}"
    )
    with scratch_dir("kavach-bench-") as work:
        if "sqlite" in options.databases:
            urls = {
                options.small: sqlite_url(work / "small.db"),
                options.big: sqlite_url(work / "big.db"),
            }
            results.append(await run_backend("SQLite", urls, options, work))
        if "postgresql" in options.databases:
            reason = await postgres_unavailable()
            if reason is not None:
                print(f"\n== PostgreSQL == skipped: {reason}")
                results.append(BackendResult("PostgreSQL", skipped=reason))
            else:
                async with postgres_databases(2) as (small_url, big_url):
                    urls = {options.small: small_url, options.big: big_url}
                    results.append(await run_backend("PostgreSQL", urls, options, work))
    report_summary(results, options)
    print(
        f"\nwhole run: {time.monotonic() - began:.0f} s; load average at the end {_load_average()}"
    )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; the exit status is 0 unless something broke (never for a time)."""
    options = parse_args(argv)
    asyncio.run(run(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
