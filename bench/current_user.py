"""What ``CurrentUser`` costs at real traffic, beside two peers, all measured in one run.

For SQLite and for PostgreSQL (skipped, with the reason, when the server at 127.0.0.1:5432 cannot
be reached), and for 1 and 4 uvicorn workers, this benchmark serves
``bench/apps/kavach_bench_app.py`` and loads, with wrk and a Lua script that gives every request
the next of N distinct sessions (N = 1, 100 and 10,000):

* ``GET /bare``: no dependency, the yardstick (the same requests, the header ignored);
* ``GET /dep``: a dependency of ``CurrentUser``'s shape that returns a fixed user, FastAPI's own
  cost of handing a route its user (the floor under every ``Depends``-based current user);
* ``GET /me``: ``CurrentUser`` (Bearer session tokens);
* ``GET /sc/me``: a Starlette app behind ``SessionMiddleware``, the user in a signed cookie
  (nothing looked up, nothing revocable);
* ``GET /fu/me``: fastapi-users' ``current_user`` with its database strategy (Bearer tokens).

Routes take turns on the same server, each put first among the app's routes before it is loaded
(so that none pays for the routes tried before it); each run is paired with a run of the bare
route made just before or after it, and the medians of the pairs' ratios are printed, by
throughput and by the server's CPU time per request (which holds up better when the machine is
shared). The same routes are also called in-process (`bench._in_process`: no server, no wrk,
the routes taking turns 100 calls at a time), which gives what each costs in microseconds, with
ratios that hold to about 0.02 where the load runs' move by a tenth from one run to the next.
Then the cost of a cold lookup (`Store.find_session`, what a request pays when its session is
not remembered) against the same SQL through the bare driver, with 10,000 and 1,000,000
sessions stored, and the bytes one remembered session costs.

Nothing is asserted about time. Run from the repository::

    .venv/bin/python -m bench.current_user            # 10-20 minutes on 2 shared cores
    .venv/bin/python -m bench.current_user --quick    # about 5 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2

from bench import peers
from bench._common import (
    BEARER,
    BENCH_SECRET,
    DATABASES,
    FLAVOURS,
    FLOOR_LABEL,
    FLOOR_PATH,
    LoadResult,
    SeededSessions,
    Server,
    bench_app_environment,
    flavour_missing,
    mark,
    median,
    run_wrk,
    scratch_databases,
    scratch_dir,
    seed_sessions,
    table,
    unavailable,
    uvicorn_app,
    uvicorn_flavour,
    wrk_path,
)
from bench._in_process import router_pass_report, routes_report, time_router_pass, time_routes
from bench._lookups import LookupResult, bytes_per_remembered_session, measure_lookups
from kavach_fastapi.session_memory import CACHE_ENTRIES

COUNTS = (1, 100, 10_000)
"""Distinct sessions taking turns."""
SERVED = 10_000
"""Sessions stored in the served database (and kavach users: one per 10)."""
ACTIVE_WITHIN = timedelta(minutes=5)
"""Stored sessions were last active within this (the activity write's interval), spread out."""
TARGET_MANY = 0.90
TARGET_ONE = 0.95
TARGET_PG_COLD = 3.0
TARGET_SQLITE_COLD = 10.0
"""The issue asks for "far closer than 100x" on SQLite; 10x is what this bench calls that."""


@dataclass(frozen=True)
class Route:
    """A route under load, and how its requests carry a session."""

    key: str
    label: str
    path: str
    carrier: tuple[str, str]
    counts: tuple[int, ...] = COUNTS
    """The numbers of sessions it is loaded with (a route that reads none needs one)."""


BARE = Route("bare", "bare route", "/bare", BEARER)
KAVACH = Route("kavach", "CurrentUser (kavach)", "/me", BEARER)
SIGNED = Route("sc", peers.SIGNED_LABEL, "/sc/me", peers.SIGNED_CARRIER)
FASTAPI_USERS = Route("fu", "fastapi-users, database strategy", "/fu/me", BEARER)
FLOOR = Route("dep", FLOOR_LABEL, FLOOR_PATH, BEARER, counts=(1,))
"""What FastAPI costs to hand a route a user through ``Annotated[User, Depends(...)]`` before
the dependency does anything: the floor of every ``Depends``-based current user, kavach's and
fastapi-users' alike (``CurrentUser / floor`` is what kavach itself costs)."""


@dataclass(frozen=True)
class Options:
    """The command line, parsed."""

    workers: tuple[int, ...]
    connections: int
    seconds: float
    rounds: int
    warmup: float
    warmup_limit: float
    big: int
    lookups: int
    databases: tuple[str, ...]
    peers: bool
    flavour: str


@dataclass
class Runs:
    """Load runs of one server, per (route key, sessions), each paired with a bare-route run
    made just before or after it; medians of the pairs are reported."""

    runs: dict[tuple[str, int], list[tuple[LoadResult, LoadResult]]] = field(default_factory=dict)

    def add(self, key: tuple[str, int], result: LoadResult, bare: LoadResult) -> None:
        self.runs.setdefault(key, []).append((result, bare))

    def bare_rps(self) -> float:
        return median([bare.rps for pairs in self.runs.values() for _, bare in pairs])

    def failures(self, key: tuple[str, int]) -> int:
        return sum(result.failures + bare.failures for result, bare in self.runs[key])

    def ratio(self, key: tuple[str, int]) -> tuple[float, float]:
        """Throughput over the bare route's, and the bare route's CPU per request over this one's."""
        pairs = self.runs[key]
        return (
            median([result.rps / bare.rps for result, bare in pairs]),
            median([bare.server_cpu_us / result.server_cpu_us for result, bare in pairs]),
        )


@dataclass
class BackendResult:
    """Everything measured on one database."""

    name: str
    servers: dict[int, Runs] = field(default_factory=dict)
    lookup: LookupResult = field(default_factory=LookupResult)
    in_process: dict[str, float] = field(default_factory=dict)
    """Microseconds per request of each route, called in-process (`time_routes`)."""
    skipped: str | None = None


# Load


async def load(
    server: Server,
    route: Route,
    tokens: Sequence[str],
    options: Options,
    seconds: float,
    work: Path,
    start: int | None = None,
) -> LoadResult:
    """One wrk run of one route, first among the app's routes, and the server's CPU time per
    request."""
    await put_first(server.url, server.workers, route.path)
    cpu_before = server.cpu_seconds()
    result = await asyncio.to_thread(
        run_wrk,
        f"{server.url}{route.path}",
        tokens=tokens,
        connections=options.connections,
        seconds=seconds,
        script_dir=work,
        carrier=route.carrier,
        start=start,
    )
    used = server.cpu_seconds() - cpu_before
    return dataclasses.replace(result, server_cpu_us=used / max(result.requests, 1) * 1e6)


async def check_routes(base: str, routes: Sequence[Route], tokens: dict[str, list[str]]) -> None:
    """Each route answers 200 with one of its sessions and 401 without."""
    async with httpx2.AsyncClient(base_url=base, timeout=10, trust_env=False) as client:
        for route in routes:
            header, prefix = route.carrier
            with_one = await client.get(route.path, headers={header: prefix + tokens[route.key][0]})
            without = await client.get(route.path)
            expected = 200 if route in (BARE, FLOOR) else 401
            if with_one.status_code != 200 or without.status_code != expected:
                raise RuntimeError(
                    f"{route.path}: {with_one.status_code} with a session, "
                    f"{without.status_code} without"
                )


async def ask_every_worker(
    ask: Callable[[], Awaitable[httpx2.Response]],
    workers: int,
    *,
    limit: float,
    burst: int = 1,
    done: Callable[[dict[str, Any]], bool] = lambda _answer: True,
) -> dict[str, dict[str, Any]]:
    """Ask until each of ``workers`` has answered (and its last answer is ``done``), or for
    ``limit`` seconds; each answer's JSON by the ``pid`` it names.

    ``ask`` should send ``Connection: close``, so that the kernel picks a worker for each
    request. ``burst`` requests are sent at once: one at a time tends to reach the same few
    workers, as the kernel hands a new connection to the worker that waited last.
    """
    answers: dict[str, dict[str, Any]] = {}
    began = time.monotonic()
    while time.monotonic() - began < limit:
        for response in await asyncio.gather(*[ask() for _ in range(burst)]):
            response.raise_for_status()
            answer = response.json()
            answers[answer["pid"]] = answer
        if len(answers) == workers and all(done(answer) for answer in answers.values()):
            break
    return answers


_FRESH = {"Connection": "close"}
"""Each request on a connection of its own: the kernel picks the worker."""


async def put_first(base: str, workers: int, path: str, *, limit: float = 60.0) -> None:
    """Have every worker try the route of ``path`` before its others (the app's ``POST
    /first``)."""
    async with httpx2.AsyncClient(base_url=base, timeout=10, trust_env=False) as client:
        moved = await ask_every_worker(
            lambda: client.post("/first", json={"path": path}, headers=_FRESH),
            workers,
            limit=limit,
            burst=2 * workers,
        )
    if len(moved) < workers:
        raise RuntimeError(f"only {len(moved)} of {workers} workers put {path} first")


async def remembered_per_worker(base: str, workers: int) -> dict[str, int]:
    """Sessions each worker remembers (the app's ``GET /stats``)."""
    async with httpx2.AsyncClient(base_url=base, timeout=10, trust_env=False) as client:
        stats = await ask_every_worker(
            lambda: client.get("/stats", headers=_FRESH), workers, limit=30.0, burst=workers
        )
    return {pid: answer["remembered"] for pid, answer in stats.items()}


async def warm_up(
    server: Server, workers: int, tokens: Sequence[str], options: Options, work: Path
) -> None:
    """Have every worker check every session once, as in an app that has run a while.

    The bench app's ``POST /warm`` checks a list of sessions in the worker that answers it;
    it is asked until each worker remembers them all, then ``/me`` is loaded once more.
    Loading ``/me`` alone until then would take minutes: a worker meets a given session on
    only some of the requests that carry it.
    """
    began = time.monotonic()
    body = list(tokens)

    def warmed(answer: dict[str, Any]) -> bool:
        if answer["found"] != len(body):
            raise RuntimeError(f"/warm found {answer['found']} of {len(body)} sessions")
        return bool(answer["remembered"] >= len(body))

    async with httpx2.AsyncClient(base_url=server.url, timeout=120, trust_env=False) as client:
        await ask_every_worker(
            lambda: client.post("/warm", json=body, headers=_FRESH),
            workers,
            limit=options.warmup_limit,
            done=warmed,
        )
    await load(server, KAVACH, tokens, options, options.warmup, work)
    seen = await remembered_per_worker(server.url, workers)
    print(
        f"  warmed up in {time.monotonic() - began:.0f} s: the workers remember "
        f"{sorted(seen.values())} sessions",
        flush=True,
    )


def loads(routes: Sequence[Route]) -> list[tuple[Route, int]]:
    """What one round loads: every route but the bare one with each count (each beside a bare run)."""
    return [(r, n) for r in routes if r is not BARE for n in r.counts]


async def measure_server(
    url: str, workers: int, tokens: dict[str, list[str]], options: Options, work: Path, name: str
) -> Runs:
    """Serve the app with ``workers`` workers; warm it up, then load its routes in rounds."""
    routes = [BARE, FLOOR, KAVACH] + ([SIGNED, FASTAPI_USERS] if options.peers else [])
    env = bench_app_environment(url)
    runs = Runs()
    log = work / f"uvicorn-{name}-{workers}.log"
    with uvicorn_app(workers=workers, env=env, log=log, flavour=options.flavour) as server:
        await check_routes(server.url, routes, tokens)
        # Every worker meets every session first, as in an app that has been running a while.
        await warm_up(server, workers, tokens[KAVACH.key], options, work)
        for route in routes:
            await load(server, route, tokens[route.key], options, 1.0, work)
        for number in range(options.rounds):
            order = loads(routes)
            for turn, (route, count) in enumerate(order):
                measured: dict[str, LoadResult] = {}
                pair = (BARE, route) if (number + turn) % 2 == 0 else (route, BARE)
                for each in pair:
                    measured[each.key] = await load(
                        server, each, tokens[each.key][:count], options, options.seconds, work
                    )
                runs.add((route.key, count), measured[route.key], measured[BARE.key])
    text = log.read_text()
    for trouble in ("database is locked", "Traceback"):
        if trouble in text:
            print(f"  note: {trouble!r} appears in the server log {log.name}")
    return runs


# One database


async def run_backend(
    name: str, served: str, big: str, options: Options, work: Path
) -> BackendResult:
    """Seed, time cold lookups, then serve and load, on one kind of database."""
    print(f"\n== {name} ==", flush=True)
    result = BackendResult(name)
    urls = {SERVED: served, options.big: big}
    seeded: dict[int, SeededSessions] = {}
    for n, url in urls.items():
        seeded[n] = await seed_sessions(
            url, n, users=max(1, n // 10), keep_tokens=SERVED, active_within=ACTIVE_WITHIN
        )
        print(f"  stored {n:,} sessions in {seeded[n].seconds:.1f} s", flush=True)
    tokens = dict.fromkeys((BARE.key, FLOOR.key, KAVACH.key), seeded[SERVED].tokens)
    if options.peers:
        tokens[SIGNED.key] = peers.signed_cookies(BENCH_SECRET, SERVED)
        tokens[FASTAPI_USERS.key] = await peers.seed_fastapi_users(served, SERVED, users=1000)
    result.lookup = await measure_lookups(
        urls, seeded, lookups=options.lookups, rounds=options.rounds
    )
    result.in_process = await time_routes(served, seeded[SERVED].tokens, tokens.get(SIGNED.key, ()))
    print("  timed the cold lookups and the routes in-process; loading them ...", flush=True)
    for workers in options.workers:
        result.servers[workers] = await measure_server(
            served, workers, tokens, options, work, name.lower()
        )
        print(f"  {workers} worker(s) done; load average {_load_average()}", flush=True)
    report([result], options, per_session=None)  # so far, in case a later part fails
    return result


# Report


def _pair(values: tuple[float, float], target: float | None = None) -> str:
    text = f"{values[0]:.2f}; {values[1]:.2f}"
    return text if target is None else f"{text} {mark(values[0] >= target)}"


def _over_floor(runs: Runs) -> list[str]:
    """CurrentUser's ratios over the floor's: what kavach itself costs, FastAPI's part removed."""
    floor = runs.ratio((FLOOR.key, 1))
    cells = []
    for n in COUNTS:
        mine = runs.ratio((KAVACH.key, n))
        over = (mine[0] / floor[0], mine[1] / floor[1])
        cells.append(_pair(over, TARGET_ONE if n == 1 else TARGET_MANY))
    return cells


def report(results: Sequence[BackendResult], options: Options, per_session: float | None) -> None:
    """The tables: ratios to the bare route, req/s, cold lookups, memory."""
    print(
        f"\n== Ratio to a bare route served the same way: by throughput; by server CPU per "
        f"request (medians of {options.rounds} round(s) of {options.seconds:g} s; wrk -t1 "
        f"-c{options.connections}; uvicorn {options.flavour}: {uvicorn_flavour(options.flavour)}; "
        "each route first among the app's routes). Targets for CurrentUser: >= "
        f"{TARGET_ONE} with 1 session, >= {TARGET_MANY} with many =="
    )
    rows: list[list[object]] = []
    for result in results:
        if result.skipped is not None:
            rows.append([result.name, "", f"skipped: {result.skipped}", "", "", "", ""])
            continue
        for workers, runs in result.servers.items():
            for route in (FLOOR, KAVACH, SIGNED, FASTAPI_USERS):
                if (route.key, 1) not in runs.runs:
                    continue
                mine = route is KAVACH
                cells = [
                    _pair(
                        runs.ratio((route.key, n)),
                        (TARGET_ONE if n == 1 else TARGET_MANY) if mine else None,
                    )
                    if n in route.counts
                    else ""
                    for n in COUNTS
                ]
                failed = sum(runs.failures((route.key, n)) for n in route.counts)
                rows.append([result.name, workers, route.label, *cells, failed])
            if (FLOOR.key, 1) in runs.runs and (KAVACH.key, 1) in runs.runs:
                rows.append(
                    [result.name, workers, "CurrentUser / the floor", *_over_floor(runs), ""]
                )
            rows.append(
                [
                    result.name,
                    workers,
                    f"  (bare route: {runs.bare_rps():,.0f} req/s)",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    headers = ["database", "workers", "route", *(f"{n:,} session(s)" for n in COUNTS), "failed"]
    print(table(headers, rows))
    for result in results:
        if result.in_process:
            print(routes_report(result.name, result.in_process))
    print(
        "\n== A cold lookup (Store.find_session, one at a time, random stored sessions) against "
        "the same SQL through the bare driver (sqlite3 / asyncpg with a prepared statement) =="
    )
    lookup_rows: list[list[object]] = []
    for result in results:
        if result.skipped is not None:
            continue
        target = TARGET_SQLITE_COLD if result.name == "SQLite" else TARGET_PG_COLD
        for n in (SERVED, options.big):
            lookup = result.lookup
            times = lookup.over_driver(n)
            lookup_rows.append(
                [
                    result.name,
                    f"{n:,}",
                    f"{lookup.wall_us[n]:.0f} us",
                    f"{lookup.raw_us[n]:.0f} us",
                    f"{times:.1f}x {mark(times <= target)} (<= {target:g}x)",
                ]
            )
    print(
        table(
            ["database", "sessions stored", "Store.find_session", "bare driver", "ratio"],
            lookup_rows,
        )
    )
    pinned = [r.name for r in results if r.skipped is None and r.lookup.one_cpu]
    print(
        f"Timed on one CPU (with PostgreSQL's server, for PostgreSQL): {', '.join(pinned)}"
        if pinned
        else "Timed on every CPU (pinning to one was not possible): the PostgreSQL ratio moves "
        "with where the scheduler puts each backend"
    )
    if per_session is None:
        return
    print(
        f"\nMemory: one remembered session costs {per_session:,.0f} bytes (tracemalloc, 10,000 "
        f"sessions of realistic users); the cap of {CACHE_ENTRIES:,} per process is "
        f"{per_session * CACHE_ENTRIES / 1e6:,.0f} MB."
    )


# Command line


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.current_user",
        description=(
            "CurrentUser against a bare route and two peers, with 1, 100 and 10,000 sessions "
            "taking turns, on SQLite and PostgreSQL, 1 and 4 workers; cold lookups against the "
            "bare driver; memory per remembered session. Prints ratios; asserts nothing."
        ),
    )
    parser.add_argument("--workers", type=int, action="append", help="default: 1 and 4")
    parser.add_argument("--connections", type=int, default=50, help="default: 50")
    parser.add_argument("--seconds", type=float, default=1.0, help="one load run (default: 1)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="default: 6; medians are printed (consecutive runs of one route differ by up to a "
        "fifth on 2 shared cores: more, shorter pairs give steadier medians)",
    )
    parser.add_argument("--sessions", type=int, default=1_000_000, help="the big table")
    parser.add_argument("--lookups", type=int, default=1_000, help="per round and table")
    parser.add_argument("--database", choices=tuple(DATABASES), action="append")
    parser.add_argument("--no-peers", action="store_true", help="CurrentUser and bare only")
    parser.add_argument(
        "--uvicorn",
        choices=sorted(FLAVOURS),
        default="plain",
        help="plain: asyncio and h11, what `pip install uvicorn` serves (default; with several "
        "workers each answers ~40 ms late); standard: uvloop and httptools, uvicorn[standard]",
    )
    parser.add_argument("--install-wrk", action="store_true", help="apt-get install -y wrk")
    parser.add_argument(
        "--quick", action="store_true", help="1 round of 1 s, 100,000 sessions in the big table"
    )
    args = parser.parse_args(argv)
    if args.install_wrk and wrk_path() is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False)  # noqa: S607
    if wrk_path() is None:
        parser.error("wrk is not installed: apt-get install -y wrk (or pass --install-wrk)")
    unservable = flavour_missing(args.uvicorn)
    if unservable is not None:
        parser.error(f"--uvicorn {args.uvicorn}: {unservable} (pip install 'uvicorn[standard]')")
    missing = None if args.no_peers else peers.available()
    if missing is not None:
        print(f"peers skipped: {missing}")
    quick = bool(args.quick)
    return Options(
        workers=tuple(args.workers or (1, 4)),
        connections=args.connections,
        seconds=1.0 if quick else args.seconds,
        rounds=1 if quick else args.rounds,
        warmup=2.0,
        warmup_limit=60.0 if quick else 180.0,
        big=100_000 if quick else args.sessions,
        lookups=500 if quick else args.lookups,
        databases=tuple(args.database or DATABASES),
        peers=not args.no_peers and missing is None,
        flavour=args.uvicorn,
    )


def _load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


async def run(options: Options) -> list[BackendResult]:
    """Every measurement, database by database."""
    results: list[BackendResult] = []
    began = time.monotonic()
    print(
        f"current_user benchmark: Python {sys.version.split()[0]}; workers {options.workers}; "
        f"sessions {COUNTS}; load average {_load_average()}"
    )
    per_session = bytes_per_remembered_session()
    router_pass = await time_router_pass()
    with scratch_dir("kavach-bench-") as work:
        for kind, name in DATABASES.items():
            if kind not in options.databases:
                continue
            reason = await unavailable(kind)
            if reason is not None:
                results.append(BackendResult(name, skipped=reason))
                continue
            async with scratch_databases(kind, "served", "big") as (served, big):
                results.append(await run_backend(name, served, big, options, work))
    report(results, options, per_session)
    print(router_pass_report(router_pass))
    print(
        f"\nwhole run: {time.monotonic() - began:.0f} s; load average at the end {_load_average()}"
    )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; the exit status is 0 unless something broke (never for a time)."""
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
