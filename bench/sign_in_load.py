"""Sign-in under load: 200 people sign in at once, through the Atlassian emulator.

For SQLite (2 uvicorn workers) and PostgreSQL (4 workers; skipped, with the reason, when the
server at 127.0.0.1:5432 cannot be reached) this benchmark serves ``bench/apps/kavach_bench_app.py``
with uvicorn (a subprocess) against an :class:`~kavach_fastapi.emulator.AtlassianEmulator` served
on a loopback socket in this process, and starts every sign-in at the same moment. One sign-in is
what a browser does:

1. ``GET /api/kavach/auth/oauth/authorize/atlassian`` (app): 302 to the consent page;
2. ``GET`` the consent page (emulator): 200, a form with the pending consent's id;
3. ``POST /authorize/decision`` (emulator) as the sign-in's own person: 302 to the callback
   (the emulator's ``auto_consent`` always signs in its first person, so the form is used to
   make each sign-in a different person);
4. ``GET`` the callback (app): the code exchange and ``/me`` at the emulator, then 303 with
   the session cookie;
5. ``GET /me`` (app, ``CurrentUser``) with that cookie: 200 with the person's email.

Each sign-in comes from a loopback address of its own (127.1.x.y), as different people do, so the
package's per-address rate limit stays at its default. Afterwards it checks, printing PASS or
FAIL: every sign-in succeeded; exactly one user, one session and one account per person in the
database; no "database is locked" (nor any traceback) in the server log; no 5xx. It prints
sign-ins per second and the p50/p99 of a whole sign-in and of each step.

Then a fault phase, with ``KAVACH_HTTP_TIMEOUT`` set small on a restarted server: the emulator's
token endpoint answers 500, its ``/me`` answers 503, each is made slower than the timeout, and
the token endpoint answers a body cut short. Each must end in a clean redirect to
``/done?error=...``, no session cookie, a 401 from ``/me``, and no new rows. Nothing is asserted
about time. Run from the repository::

    .venv/bin/python -m bench.sign_in_load            # about a minute on 2 cores
    .venv/bin/python -m bench.sign_in_load --quick    # 50 sign-ins
"""

from __future__ import annotations

import argparse
import asyncio
import re
import ssl
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
from sqlalchemy import func, select

from bench._common import (
    BENCH_SECRET,
    DATABASES,
    Server,
    mark,
    percentile,
    scratch_databases,
    scratch_dir,
    table,
    unavailable,
    uvicorn_app,
    uvicorn_flavour,
)
from kavach_fastapi.emulator import AtlassianEmulator, EmulatedUser, Fault, FaultEndpoint
from kavach_fastapi.store import Store
from kavach_fastapi.tables import AccountRow, SessionRow, SignInAttemptRow, UserRow
from tests.support.browser import AUTHORIZE, CALLBACK
from tests.support.people import people
from tests.support.servers import free_port

LANDING = "/done"
STEPS = ("authorize", "consent page", "decision", "callback", "GET /me")
_CONSENT_ID = re.compile(r'name="consent_id" value="([^"]+)"')


@dataclass(frozen=True)
class Options:
    """The command line, parsed."""

    sign_ins: int
    sqlite_workers: int
    postgres_workers: int
    fault_sign_ins: int
    fault_timeout: float
    databases: tuple[str, ...]


@dataclass
class SignIn:
    """What one sign-in saw."""

    person: EmulatedUser
    statuses: list[tuple[str, int]] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    problem: str | None = None
    error_code: str | None = None
    """The ``error`` of the landing URL, when the sign-in ended in one."""
    session_cookie: bool = False
    me_status: int = 0
    pid: str | None = None
    user_id: str | None = None

    @property
    def succeeded(self) -> bool:
        """Signed in, and ``/me`` knows who it is."""
        return self.problem is None and self.error_code is None and self.me_status == 200


@dataclass(frozen=True)
class Browser:
    """One person's browser: an HTTP client with its own cookies and loopback address."""

    client: httpx2.AsyncClient
    address: str


def address_of(index: int) -> str:
    """A distinct loopback address for sign-in ``index`` (127.1.0.1, 127.1.0.2, ...)."""
    return f"127.1.{index // 250}.{index % 250 + 1}"


@asynccontextmanager
async def browsers(count: int, first: int) -> AsyncIterator[list[Browser]]:
    """``count`` browsers, made before any clock starts (an HTTP client is not free to make)."""
    context = ssl.create_default_context()  # shared; nothing here speaks TLS
    made: list[Browser] = []
    try:
        for index in range(first, first + count):
            address = address_of(index)
            transport = httpx2.AsyncHTTPTransport(
                local_address=address, verify=context, trust_env=False
            )
            client = httpx2.AsyncClient(
                transport=transport, timeout=120.0, follow_redirects=False, trust_env=False
            )
            made.append(Browser(client, address))
        yield made
    finally:
        for browser in made:
            await browser.client.aclose()


async def sign_in(browser: Browser, app: str, emulator: str, person: EmulatedUser) -> SignIn:
    """Sign ``person`` in as a browser would, recording each step."""
    record = SignIn(person=person)
    client = browser.client
    began = time.perf_counter()

    async def step(name: str, request: httpx2.Request) -> httpx2.Response:
        started = time.perf_counter()
        response = await client.send(request)
        record.step_seconds[name] = time.perf_counter() - started
        record.statuses.append((name, response.status_code))
        return response

    try:
        started = await step(
            "authorize", client.build_request("GET", f"{app}{AUTHORIZE}?redirect_to={LANDING}")
        )
        if started.status_code != 302:
            record.problem = f"authorize answered {started.status_code}"
            return record
        page = await step("consent page", client.build_request("GET", started.headers["location"]))
        found = _CONSENT_ID.search(page.text)
        if page.status_code != 200 or found is None:
            record.problem = f"the consent page answered {page.status_code}"
            return record
        form = [
            ("consent_id", found.group(1)),
            ("decision", "accept"),
            ("account_id", person.account_id),
        ]
        decided = await step(
            "decision",
            client.build_request(
                "POST",
                f"{emulator}/authorize/decision",
                content=urlencode(form),
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
        )
        if decided.status_code != 302:
            record.problem = f"the decision answered {decided.status_code}"
            return record
        finished = await step("callback", client.build_request("GET", decided.headers["location"]))
        landing = urlsplit(finished.headers.get("location", ""))
        record.error_code = parse_qs(landing.query).get("error", [None])[0]
        record.session_cookie = any(
            "kavach_session=" in value and "Max-Age=0" not in value
            for value in finished.headers.get_list("set-cookie")
        )
        if finished.status_code != 303 or landing.path != LANDING:
            record.problem = f"the callback answered {finished.status_code} to {landing.geturl()}"
        me = await step("GET /me", client.build_request("GET", f"{app}/me"))
        record.me_status = me.status_code
        if me.status_code == 200:
            body = me.json()
            record.pid = str(body.get("pid"))
            record.user_id = str(body.get("id"))
            if body.get("email") != person.email:
                record.problem = f"/me answered for {body.get('email')}, not {person.email}"
    except httpx2.HTTPError as exc:
        record.problem = f"{type(exc).__name__}: {exc}"
    finally:
        record.seconds = time.perf_counter() - began
    return record


# One database


@dataclass(frozen=True)
class FaultCase:
    """One fault the emulator injects during the callback."""

    title: str
    endpoint: FaultEndpoint
    fault: Fault


def fault_cases(timeout: float) -> list[FaultCase]:
    """The faults of the fault phase, for a given ``KAVACH_HTTP_TIMEOUT``."""
    slow = timeout + 1.5
    return [
        FaultCase("token endpoint answers 500", "authorization_code", Fault("status", status=500)),
        FaultCase("/me answers 503", "me", Fault("status", status=503)),
        FaultCase(
            f"token endpoint takes {slow:g} s (timeout {timeout:g} s)",
            "authorization_code",
            Fault("latency", seconds=slow),
        ),
        FaultCase(
            f"/me takes {slow:g} s (timeout {timeout:g} s)", "me", Fault("latency", seconds=slow)
        ),
        FaultCase("token endpoint body cut short", "authorization_code", Fault("malformed_json")),
    ]


@dataclass(frozen=True)
class TableCounts:
    """Rows in the package's tables."""

    users: int
    sessions: int
    accounts: int
    attempts: int

    @property
    def sign_in_rows(self) -> tuple[int, int, int]:
        """Users, sessions and accounts: a sign-in of a new person adds one of each."""
        return self.users, self.sessions, self.accounts

    def __str__(self) -> str:
        return (
            f"users={self.users} sessions={self.sessions} accounts={self.accounts} "
            f"pending sign-in attempts={self.attempts}"
        )


async def table_counts(database_url: str) -> TableCounts:
    """Count the rows of the users, sessions, accounts and sign-in attempts tables."""
    store = Store(database_url)
    try:
        async with store.database.reader() as session:
            numbers = [
                int((await session.execute(select(func.count()).select_from(table))).scalar_one())
                for table in (UserRow, SessionRow, AccountRow, SignInAttemptRow)
            ]
    finally:
        await store.dispose()
    return TableCounts(*numbers)


@dataclass
class Checks:
    """PASS/FAIL lines, printed together."""

    lines: list[tuple[bool, str]] = field(default_factory=list)

    def add(self, passed: bool, text: str) -> None:
        """Record one check."""
        self.lines.append((passed, text))

    def print(self) -> None:
        """Print every check."""
        for passed, text in self.lines:
            print(f"  {mark(passed)}  {text}")

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(passed for passed, _ in self.lines)


def log_troubles(log: Path) -> dict[str, int]:
    """How often the server log mentions a locked database or a traceback."""
    text = log.read_text(errors="replace")
    return {
        "database is locked": text.lower().count("database is locked"),
        "Traceback": text.count("Traceback"),
    }


def five_xx(records: Sequence[SignIn]) -> int:
    """Answers of 500 or more that the browsers saw."""
    return sum(1 for record in records for _, status in record.statuses if status >= 500)


@contextmanager
def app_server(
    database_url: str,
    emulator_url: str,
    emu: AtlassianEmulator,
    workers: int,
    log: Path,
    **extra: str,
) -> Iterator[Server]:
    """The app under uvicorn, its callback registered with the emulator."""
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    callback = f"{app_url}{CALLBACK}"
    if callback not in emu.default_client.redirect_uris:
        emu.default_client.redirect_uris.append(callback)
    env = {
        "KAVACH_DATABASE_URL": database_url,
        "KAVACH_SECRET": BENCH_SECRET,
        "ATLASSIAN_CLIENT_ID": emu.default_client.client_id,
        "ATLASSIAN_CLIENT_SECRET": emu.default_client.client_secret,
        "ATLASSIAN_AUTH_URL": emulator_url,
        "ATLASSIAN_API_URL": emulator_url,
        **extra,
    }
    with uvicorn_app(workers=workers, env=env, log=log, port=port) as server:
        yield server


async def warm_up(app_url: str, workers: int) -> None:
    """Start (and abandon) a few sign-ins, so every worker has its pools and compiled SQL."""
    async with httpx2.AsyncClient(timeout=30, trust_env=False) as client:
        for _ in range(4 * workers):
            await client.get(
                f"{app_url}{AUTHORIZE}", headers={"Connection": "close"}, follow_redirects=False
            )


async def run_backend(
    name: str, database_url: str, workers: int, options: Options, work: Path
) -> bool:
    """The load phase and the fault phase on one database; whether every check passed."""
    print(f"\n== {name}: {options.sign_ins} concurrent sign-ins, {workers} uvicorn workers ==")
    crowd = people(options.sign_ins, "load")
    cases = fault_cases(options.fault_timeout)
    spare = people(options.fault_sign_ins * len(cases) + 1, "fault")
    emu = AtlassianEmulator(users=[*crowd, *spare])
    checks = Checks()
    with emu.serve() as emulator_url:
        log = work / f"uvicorn-{name.lower()}-load.log"
        with app_server(database_url, emulator_url, emu, workers, log) as server:
            await warm_up(server.url, workers)
            async with browsers(len(crowd), 0) as crowd_browsers:
                began = time.perf_counter()
                app_cpu, own_cpu = server.cpu_seconds(), time.process_time()
                records = await asyncio.gather(
                    *(
                        sign_in(browser, server.url, emulator_url, person)
                        for browser, person in zip(crowd_browsers, crowd, strict=True)
                    )
                )
                elapsed = time.perf_counter() - began
                cpu = Cpu(server.cpu_seconds() - app_cpu, time.process_time() - own_cpu)
        report_load(records, elapsed, workers, cpu)
        counts = await table_counts(database_url)
        troubles = log_troubles(log)
        succeeded = sum(record.succeeded for record in records)
        n = len(crowd)
        checks.add(succeeded == n, f"every sign-in succeeded: {succeeded}/{n}")
        for record in [r for r in records if not r.succeeded][:5]:
            print(f"    failed: {record.person.email}: {record.problem or record.error_code}")
        checks.add(
            counts.sign_in_rows == (n, n, n),
            f"exactly {n} users, sessions and accounts: {counts}",
        )
        distinct = len({r.user_id for r in records if r.user_id})
        checks.add(distinct == n, f"/me named {distinct} distinct users for {n} people")
        served = Counter(r.pid for r in records if r.pid)
        print(
            f"  GET /me was answered by {len(served)} of {workers} worker processes "
            f"({', '.join(str(count) for _, count in served.most_common())} sign-ins)"
        )
        checks.add(
            troubles["database is locked"] == 0,
            f"no 'database is locked' in the server log ({troubles['database is locked']})",
        )
        checks.add(
            troubles["Traceback"] == 0, f"no traceback in the server log ({troubles['Traceback']})"
        )
        checks.add(five_xx(records) == 0, f"no 5xx answers ({five_xx(records)})")
        checks.add(
            emu.calls["authorization_code"] == n and emu.calls["me"] == n,
            f"the emulator exchanged {emu.calls['authorization_code']} codes and served "
            f"{emu.calls['me']} profiles",
        )
        await fault_phase(
            name, database_url, emulator_url, emu, workers, options, spare, cases, checks, work
        )
    print(f"\n  {name} checks:")
    checks.print()
    return checks.passed


@dataclass(frozen=True)
class Cpu:
    """CPU seconds spent during the burst."""

    app: float
    """By the app's uvicorn processes."""
    here: float
    """By this process: the emulator and the browsers."""


def report_load(records: Sequence[SignIn], elapsed: float, workers: int, cpu: Cpu) -> None:
    """Print throughput, CPU and latencies of the load phase."""
    done = [record for record in records if record.succeeded]
    print(
        f"  {len(done)} of {len(records)} sign-ins in {elapsed:.2f} s: "
        f"{len(done) / elapsed:.1f} sign-ins per second ({workers} workers, {uvicorn_flavour()}; "
        "the emulator and these browsers share this process)"
    )
    n = max(len(records), 1)
    print(
        f"  CPU per sign-in: app {cpu.app / n * 1000:.1f} ms (all workers; "
        f"{cpu.app / elapsed:.2f} cores busy), emulator + browsers {cpu.here / n * 1000:.1f} ms "
        f"({cpu.here / elapsed:.2f} cores); the database server's own CPU is not counted"
    )
    rows: list[list[object]] = []
    whole = [record.seconds * 1000 for record in records]
    rows.append(
        [
            "whole sign-in (5 requests)",
            _ms(percentile(whole, 50)),
            _ms(percentile(whole, 99)),
            _ms(max(whole)),
        ]
    )
    for name in STEPS:
        values = [r.step_seconds[name] * 1000 for r in records if name in r.step_seconds]
        where = "app" if name in ("authorize", "callback", "GET /me") else "emulator"
        rows.append(
            [
                f"  {name} ({where})",
                _ms(percentile(values, 50)),
                _ms(percentile(values, 99)),
                _ms(max(values, default=0.0)),
            ]
        )
    print(_indent(table(["latency", "p50", "p99", "max"], rows)))


async def fault_phase(
    name: str,
    database_url: str,
    emulator_url: str,
    emu: AtlassianEmulator,
    workers: int,
    options: Options,
    spare: Sequence[EmulatedUser],
    cases: Sequence[FaultCase],
    checks: Checks,
    work: Path,
) -> None:
    """Inject each fault during the callback; every sign-in must end in a clean error."""
    k = options.fault_sign_ins
    print(
        f"\n  Faults during the callback: {k} concurrent sign-ins per fault, new people, "
        f"KAVACH_HTTP_TIMEOUT={options.fault_timeout:g}"
    )
    log = work / f"uvicorn-{name.lower()}-faults.log"
    rows: list[list[object]] = []
    with app_server(
        database_url,
        emulator_url,
        emu,
        workers,
        log,
        KAVACH_HTTP_TIMEOUT=f"{options.fault_timeout:g}",
    ) as server:
        app_url = server.url
        for number, case in enumerate(cases):
            before = await table_counts(database_url)
            emu.faults.add(case.endpoint, case.fault)
            group = spare[number * k : (number + 1) * k]
            first = 1000 + number * k
            async with browsers(len(group), first) as group_browsers:
                records = await asyncio.gather(
                    *(
                        sign_in(browser, app_url, emulator_url, person)
                        for browser, person in zip(group_browsers, group, strict=True)
                    )
                )
            emu.faults.clear()
            after = await table_counts(database_url)
            clean = all(
                r.problem is None
                and r.error_code is not None
                and not r.session_cookie
                and r.me_status == 401
                for r in records
            )
            unchanged = before.sign_in_rows == after.sign_in_rows
            codes = Counter(r.error_code or r.problem or "signed in" for r in records)
            rows.append(
                [
                    case.title,
                    ", ".join(f"{code} x{count}" for code, count in sorted(codes.items())),
                    _ms(
                        percentile(
                            [r.step_seconds.get("callback", 0.0) * 1000 for r in records], 99
                        )
                    ),
                    mark(clean),
                    f"{mark(unchanged)} {'/'.join(map(str, after.sign_in_rows))}",
                ]
            )
            checks.add(
                clean and unchanged and five_xx(records) == 0,
                f"fault '{case.title}': clean ?error= redirects, no cookie, 401 from /me, "
                "no new rows, no 5xx",
            )
        before = await table_counts(database_url)
        async with browsers(1, 1900) as last:
            recovered = await sign_in(last[0], app_url, emulator_url, spare[-1])
        after = await table_counts(database_url)
    print(
        _indent(
            table(
                [
                    "fault",
                    "landed on /done?error=",
                    "callback p99",
                    "clean",
                    "rows unchanged (users/sessions/accounts)",
                ],
                rows,
            )
        )
    )
    grown = tuple(
        new - old for new, old in zip(after.sign_in_rows, before.sign_in_rows, strict=True)
    )
    checks.add(
        recovered.succeeded and grown == (1, 1, 1),
        f"faults cleared: the next sign-in succeeds and adds 1 user, 1 session, 1 account ({after})",
    )
    troubles = log_troubles(log)
    checks.add(
        troubles["database is locked"] == 0 and troubles["Traceback"] == 0,
        f"fault phase server log: no 'database is locked' ({troubles['database is locked']}), "
        f"no traceback ({troubles['Traceback']})",
    )


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


# Command line


def parse_args(argv: Sequence[str] | None) -> Options:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.sign_in_load",
        description=(
            "Drive concurrent sign-ins through the Atlassian emulator against the app under "
            "uvicorn, on SQLite and on PostgreSQL; check that each made exactly one user, one "
            "session and one account, with no 'database is locked' and no 5xx; then inject "
            "emulator faults during the callback and check they end in clean errors and leave "
            "no rows. Prints sign-ins per second and p99; asserts nothing about time."
        ),
    )
    parser.add_argument(
        "--sign-ins", type=int, default=200, help="concurrent sign-ins (default: 200)"
    )
    parser.add_argument(
        "--sqlite-workers", type=int, default=2, help="uvicorn workers on SQLite (default: 2)"
    )
    parser.add_argument(
        "--postgres-workers",
        type=int,
        default=4,
        help="uvicorn workers on PostgreSQL (default: 4)",
    )
    parser.add_argument(
        "--fault-sign-ins",
        type=int,
        default=10,
        help="concurrent sign-ins per injected fault (default: 10)",
    )
    parser.add_argument(
        "--fault-timeout",
        type=float,
        default=1.0,
        help="KAVACH_HTTP_TIMEOUT in the fault phase, seconds (default: 1)",
    )
    parser.add_argument(
        "--database",
        choices=tuple(DATABASES),
        action="append",
        help="only this database (repeatable; default: both)",
    )
    parser.add_argument("--quick", action="store_true", help="50 sign-ins and 4 per fault")
    args = parser.parse_args(argv)
    if args.sign_ins < 1 or args.sign_ins > 750:
        parser.error("--sign-ins must be between 1 and 750 (one loopback address each)")
    return Options(
        sign_ins=50 if args.quick else args.sign_ins,
        sqlite_workers=args.sqlite_workers,
        postgres_workers=args.postgres_workers,
        fault_sign_ins=4 if args.quick else args.fault_sign_ins,
        fault_timeout=args.fault_timeout,
        databases=tuple(args.database or DATABASES),
    )


async def run(options: Options) -> bool:
    """Every database in turn; whether every check passed."""
    began = time.monotonic()
    print(f"sign-in load benchmark: Python {sys.version.split()[0]}")
    results: dict[str, str] = {}
    with scratch_dir("kavach-signin-") as work:
        for kind, name in DATABASES.items():
            if kind not in options.databases:
                continue
            reason = await unavailable(kind)
            if reason is not None:
                print(f"\n== {name} == skipped: {reason}")
                results[name] = f"skipped: {reason}"
                continue
            workers = options.sqlite_workers if kind == "sqlite" else options.postgres_workers
            async with scratch_databases(kind, "kavach") as (url,):
                passed = await run_backend(name, url, workers, options, work)
            results[name] = mark(passed)
    print("\n== Summary ==")
    for name, outcome in results.items():
        print(f"{name}: {outcome}")
    print(f"whole run: {time.monotonic() - began:.0f} s")
    return all(outcome != "FAIL" for outcome in results.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a correctness check failed (never for a time)."""
    options = parse_args(argv)
    return 0 if asyncio.run(run(options)) else 1


if __name__ == "__main__":
    sys.exit(main())
