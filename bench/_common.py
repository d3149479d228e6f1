"""Shared pieces of the benchmarks: the app under uvicorn, scratch databases, load and statistics.

The uvicorn runner is the tests' own (``tests/support/servers.py``), so the benchmarks and the
multi-worker tests start, wait for and stop servers the same way.

Nothing here asserts a time. Every number a benchmark prints is measured in that same run, and
the interesting ones are ratios of two numbers measured side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx2
from sqlalchemy.engine import make_url

from tests.databases import upgrade_schema
from tests.support.servers import uvicorn_server, wait_for_workers

ROOT = Path(__file__).resolve().parents[1]
"""The repository; uvicorn runs there."""

APP_DIR = Path(__file__).resolve().parent / "apps"
APP_FACTORY = "kavach_bench_app:create_app"
FLOOR_PATH = "/dep"
FLOOR_LABEL = "a Depends returning a fixed user (the floor)"
"""The bench app's yardstick route: a dependency of ``CurrentUser``'s shape returning a fixed
user, what FastAPI itself costs to hand a route its user (`kavach_bench_app.fixed_user`)."""
"""The benchmark app (``bench/apps/kavach_bench_app.py``), imported by every worker."""

BENCH_SECRET = "kavach-bench-secret-not-for-production-use-0123456789"  # noqa: S105 - scratch data
"""``KAVACH_SECRET`` of every benchmark app (PostgreSQL needs one; SQLite gets the same)."""


def bench_app_environment(database_url: str) -> dict[str, str]:
    """The variables the bench app (`APP_FACTORY`) is configured by, on ``database_url``."""
    return {
        "KAVACH_DATABASE_URL": database_url,
        "KAVACH_SECRET": BENCH_SECRET,
        "ATLASSIAN_CLIENT_ID": "bench-client",
        "ATLASSIAN_CLIENT_SECRET": "bench-secret",
    }


POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The maintenance database through which scratch databases are made and dropped."""


# Processes


FLAVOURS = {"plain": ("asyncio", "h11"), "standard": ("uvloop", "httptools")}
"""uvicorn's event loop and HTTP parser: what ``pip install uvicorn`` runs, and what
``uvicorn[standard]`` (the package's ``[standard]`` extra) adds, about twice as fast per request.
With several workers, only ``standard`` is worth measuring: on asyncio's loop each worker answers
about 40 ms late (docs/deployment.md)."""


def uvicorn_flavour(flavour: str | None = None) -> str:
    """The event loop and HTTP parser of ``flavour``, or that uvicorn picks here by itself
    (it prefers uvloop and httptools when they are installed)."""
    if flavour is not None:
        loop, http = FLAVOURS[flavour]
    else:
        loop = "uvloop" if _importable("uvloop") else "asyncio"
        http = "httptools" if _importable("httptools") else "h11"
    return f"loop={loop}, http={http}"


def flavour_missing(flavour: str) -> str | None:
    """Why ``flavour`` cannot be served here, if it cannot."""
    missing = [name for name in FLAVOURS[flavour] if name != "asyncio" and not _importable(name)]
    return f"{' and '.join(missing)} not installed" if missing else None


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Server:
    """A running uvicorn server of the benchmark app."""

    url: str
    pid: int
    """The uvicorn process; its workers, if any, are in its session."""
    workers: int = 1

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by every process of the server."""
        return session_cpu_seconds(self.pid)


def session_cpu_seconds(session_id: int) -> float:
    """CPU time used by the live processes of a session (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session_id:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _flavour_options(flavour: str | None) -> list[str]:
    if flavour is None:
        return []
    loop, http = FLAVOURS[flavour]
    return ["--loop", loop, "--http", http]


@contextmanager
def uvicorn_app(
    *,
    workers: int,
    env: Mapping[str, str],
    log: Path,
    port: int | None = None,
    startup_timeout: float = 60.0,
    flavour: str | None = None,
) -> Iterator[Server]:
    """Serve the benchmark app with ``workers`` uvicorn processes for the ``with`` block.

    The tests' runner (``tests.support.servers``) runs it: in a process group of its own,
    always stopped (SIGTERM, then SIGKILL of that group), configured by ``env`` alone (no
    ``KAVACH_*``/``ATLASSIAN_*`` of this shell). ``log`` receives everything it prints.
    ``flavour`` (a key of `FLAVOURS`) sets uvicorn's loop and parser; ``None`` lets it pick.

    Yields:
        The server, once every worker answers ``GET /bare``.

    Raises:
        RuntimeError: the server exited or not every worker answered within ``startup_timeout``.
    """
    with uvicorn_server(
        APP_FACTORY,
        workers=workers,
        env=env,
        log=log,
        port=port,
        options=["--app-dir", str(APP_DIR), *_flavour_options(flavour)],
        ready_path="/bare",
        startup_timeout=startup_timeout,
    ) as served:
        answering = wait_for_workers(served.url, workers, path="/bare", timeout=startup_timeout)
        if len(answering) < workers:
            raise RuntimeError(
                f"only {len(answering)} of {workers} workers answered:\n{served.log()}"
            )
        yield Server(url=served.url, pid=served.pid, workers=workers)


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder for databases and server logs, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# Databases


DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
"""The kinds of database every benchmark can run on, in the order they run, and their names."""


def sqlite_url(path: Path) -> str:
    """The ``KAVACH_DATABASE_URL`` of a SQLite file."""
    return f"sqlite:///{path}"


async def unavailable(kind: str) -> str | None:
    """Why databases of ``kind`` (a key of `DATABASES`) cannot be had here, or ``None``.

    SQLite always can; PostgreSQL needs asyncpg and the server at 127.0.0.1:5432.
    """
    if kind == "sqlite":
        return None
    try:
        import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - optional extra
    except ImportError:
        return "asyncpg is not installed (pip install -e '.[postgres]')"
    try:
        connection = await asyncio.wait_for(asyncpg.connect(POSTGRES_ADMIN_URL), timeout=5)
    except (OSError, asyncio.TimeoutError) as exc:
        return f"the server at 127.0.0.1:5432 is unreachable ({type(exc).__name__}: {exc})"
    except Exception as exc:  # asyncpg's own errors: authentication, missing role, ...
        return f"cannot connect as postgres to 127.0.0.1:5432 ({type(exc).__name__}: {exc})"
    await connection.close()
    return None


async def _admin(statement: str) -> None:
    import asyncpg  # noqa: PLC0415 - optional extra

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_databases(kind: str, *names: str) -> AsyncIterator[list[str]]:
    """Fresh databases of ``kind`` at the package's schema, one per name, gone after the block.

    SQLite: files ``<name>.db`` in a temporary folder. PostgreSQL: databases
    ``kavach_bench_<random>[_n]`` (ask :func:`unavailable` first).

    Yields:
        Their ``KAVACH_DATABASE_URL``s, in the order of ``names``.
    """
    async with AsyncExitStack() as stack:
        if kind == "sqlite":
            folder = stack.enter_context(scratch_dir("kavach-bench-db-"))
            urls = [sqlite_url(folder / f"{name}.db") for name in names]
        else:
            urls = await stack.enter_async_context(_postgres_databases(len(names)))
        for url in urls:
            await upgrade_schema(url)
        yield urls


@asynccontextmanager
async def _postgres_databases(count: int) -> AsyncIterator[list[str]]:
    base = f"kavach_bench_{secrets.token_hex(4)}"
    names = [base if index == 0 else f"{base}_{index}" for index in range(count)]
    created: list[str] = []
    try:
        for name in names:
            await _admin(f'CREATE DATABASE "{name}"')
            created.append(name)
        yield [f"postgresql://postgres@127.0.0.1:5432/{name}" for name in names]
    finally:
        for name in created:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class SeededSessions:
    """What :func:`seed_sessions` stored."""

    token_hashes: list[str]
    """The hash of every stored session token, in insertion order."""
    tokens: list[str]
    """Raw tokens (usable as ``Authorization: Bearer``) of the first sessions."""
    seconds: float


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _sqlite_time(moment: datetime) -> str:
    # The form SQLAlchemy writes a DateTime in SQLite, which the package reads back.
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


async def seed_sessions(
    database_url: str,
    sessions: int,
    *,
    users: int,
    keep_tokens: int,
    batch: int = 50_000,
    active_within: timedelta = timedelta(0),
) -> SeededSessions:
    """Bulk-insert ``users`` users and ``sessions`` live sessions spread evenly over them.

    SQLite gets ``executemany`` in large batches inside one transaction; PostgreSQL gets
    ``COPY``. Tokens are random like real ones; only their hashes are stored. Each session was
    last active at a random moment of the last ``active_within`` (all now by default), so that
    the activity writes of a long run come spread out, as in an app, not all at once.
    """
    started = time.perf_counter()
    now = datetime.now(timezone.utc)
    created, expires = _naive_utc(now), _naive_utc(now + timedelta(days=6))
    user_ids = [secrets.token_hex(16) for _ in range(users)]
    tokens = [secrets.token_urlsafe(32) for _ in range(sessions)]
    hashes = [hashlib.sha256(token.encode()).hexdigest() for token in tokens]
    user_rows = [
        (uid, f"person{n}@example.com", f"person{n}@example.com", True, f"Person {n}")
        for n, uid in enumerate(user_ids)
    ]
    # Inserted in key order: the primary-key index is then built by appends, several times
    # faster than random inserts, and no lookup below depends on the order of the rows.
    spread = active_within.total_seconds()
    session_rows = sorted(
        (h, user_ids[n % users], _naive_utc(now - timedelta(seconds=random.uniform(0, spread))))
        for n, h in enumerate(hashes)
    )
    backend = make_url(database_url).get_backend_name()
    if backend == "sqlite":
        path = make_url(database_url).database
        assert path is not None
        await asyncio.to_thread(
            _seed_sqlite, path, user_rows, session_rows, created, expires, batch
        )
    else:
        await _seed_postgres(database_url, user_rows, session_rows, created, expires)
    return SeededSessions(hashes, tokens[:keep_tokens], time.perf_counter() - started)


def _seed_sqlite(
    path: str,
    user_rows: Sequence[tuple[str, str, str, bool, str]],
    session_rows: Sequence[tuple[str, str, datetime]],
    created: datetime,
    expires: datetime,
    batch: int,
) -> None:
    at, until = _sqlite_time(created), _sqlite_time(expires)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO kavach_users (id, email, email_normalized, email_verified, name, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, at, at) for row in user_rows],
        )
        for start in range(0, len(session_rows), batch):
            connection.executemany(
                "INSERT INTO kavach_sessions (token_hash, public_id, user_id, created_at, "
                "expires_at, last_active_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (h, uuid.uuid4().hex, uid, at, until, _sqlite_time(active))
                    for h, uid, active in session_rows[start : start + batch]
                ],
            )
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def _seed_postgres(
    database_url: str,
    user_rows: Sequence[tuple[str, str, str, bool, str]],
    session_rows: Sequence[tuple[str, str, datetime]],
    created: datetime,
    expires: datetime,
) -> None:
    import asyncpg  # noqa: PLC0415 - optional extra

    connection = await asyncpg.connect(database_url)
    try:
        await connection.copy_records_to_table(
            "kavach_users",
            records=[(*row, created, created) for row in user_rows],
            columns=[
                "id",
                "email",
                "email_normalized",
                "email_verified",
                "name",
                "created_at",
                "updated_at",
            ],
        )
        await connection.copy_records_to_table(
            "kavach_sessions",
            records=[
                (h, uuid.uuid4().hex, uid, created, expires, active)
                for h, uid, active in session_rows
            ],
            columns=[
                "token_hash",
                "public_id",
                "user_id",
                "created_at",
                "expires_at",
                "last_active_at",
            ],
        )
        await connection.execute("VACUUM ANALYZE kavach_users")
        await connection.execute("VACUUM ANALYZE kavach_sessions")
    finally:
        await connection.close()


# Load


@dataclass(frozen=True)
class LoadResult:
    """One load run against one path."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int
    """Non-2xx answers plus socket errors."""
    server_cpu_us: float = 0.0
    """CPU time the server used per request (user + system, all its processes), if measured."""

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    """The ``wrk`` executable, if installed (``apt-get install -y wrk``)."""
    return shutil.which("wrk")


BEARER = ("Authorization", "Bearer ")
"""How a request carries its token, by default: ``Authorization: Bearer <token>``."""


def _bearer_script(
    tokens: Sequence[str], carrier: tuple[str, str] = BEARER, start: int | None = None
) -> str:
    header, prefix = carrier
    listed = ", ".join(f'"{token}"' for token in tokens)
    # By default each run starts at a random token, so that short runs do not all use the first.
    start = secrets.randbelow(len(tokens)) if start is None else start % len(tokens)
    return (
        f"local tokens = {{{listed}}}\n"
        f"local n = {start}\n"
        "request = function()\n"
        "  n = n + 1\n"
        f'  local headers = {{["{header}"] = "{prefix}" .. tokens[(n % #tokens) + 1]}}\n'
        "  return wrk.format(nil, nil, headers)\n"
        "end\n"
    )


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_latency(output: str, percent: str) -> float:
    match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no {percent}% latency:\n{output}")
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def _wrk_count(output: str, pattern: str) -> int:
    match = re.search(pattern, output)
    return int(match.group(1)) if match else 0


def run_wrk(
    url: str,
    *,
    tokens: Sequence[str],
    connections: int,
    seconds: float,
    script_dir: Path,
    carrier: tuple[str, str] = BEARER,
    start: int | None = None,
) -> LoadResult:
    """Load ``url`` with wrk (one thread) for ``seconds``, each request with a Bearer token.

    The tokens rotate per request; the same script is used for every path, so a path that
    ignores the header gets exactly the same requests.
    """
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    script = script_dir / "bearer.lua"
    script.write_text(_bearer_script(tokens, carrier, start))
    completed = subprocess.run(  # noqa: S603 - a fixed executable and our own arguments
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    output = completed.stdout
    requests = _wrk_count(output, r"(\d+) requests in")
    duration = re.search(r"requests in ([\d.]+)(ms|s|m),", output)
    if duration is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    elapsed = float(duration.group(1)) * _WRK_UNITS[duration.group(2)] / 1000.0
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    return LoadResult(
        requests=requests,
        seconds=elapsed,
        p50_ms=_wrk_latency(output, "50"),
        p99_ms=_wrk_latency(output, "99"),
        failures=_wrk_count(output, r"Non-2xx or 3xx responses: (\d+)") + socket_errors,
    )


async def run_python_load(
    url: str,
    *,
    tokens: Sequence[str],
    connections: int,
    seconds: float,
    carrier: tuple[str, str] = BEARER,
) -> LoadResult:
    """The fallback load generator: keep-alive HTTP/1.1 connections on raw asyncio streams.

    Much slower than wrk and it shares the benchmark's process, so its numbers are only
    comparable with each other (the ratio), not with wrk's.
    """
    parts = httpx2.URL(url)
    host, port = parts.host, parts.port or 80
    path = parts.raw_path.decode()
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def connection(offset: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, port)
        n = offset
        try:
            while time.perf_counter() < deadline:
                n += 1
                token = tokens[n % len(tokens)]
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"{carrier[0]}: {carrier[1]}{token}\r\n\r\n"
                ).encode()
                began = time.perf_counter()
                writer.write(request)
                status, length = await _read_head(reader)
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - began) * 1000.0)
                if not 200 <= status < 400:
                    failures += 1
        except (OSError, asyncio.IncompleteReadError):
            failures += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    began = time.perf_counter()
    await asyncio.gather(*(connection(index) for index in range(connections)))
    elapsed = time.perf_counter() - began
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        failures=failures,
    )


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, length


# Statistics and printing


def percentile(values: Sequence[float], percent: float) -> float:
    """The ``percent``-th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(percent / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median; 0 for no values."""
    return percentile(values, 50)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table, numbers right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(header), *(len(row[column]) for row in cells)) if cells else len(header)
        for column, header in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                cell.rjust(w) if _numeric(cell) else cell.ljust(w)
                for cell, w in zip(row, widths, strict=True)
            )
        )
    return "\n".join(lines)


def _numeric(cell: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d.,]+\s*(ms|us|µs|/s|x|%)?", cell))


def mark(passed: bool) -> str:
    """``PASS`` or ``FAIL``."""
    return "PASS" if passed else "FAIL"
