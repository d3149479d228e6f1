"""The cold side of ``CurrentUser``: one lookup against the bare driver, and memory per session.

Part of ``bench/current_user.py``. A cold lookup is `Store.find_session` (what a request pays
when its session is not remembered), timed one at a time over random stored tokens, beside the
same SQL through ``sqlite3`` or asyncpg on one connection with a prepared statement, the two
taking turns chunk by chunk, on one CPU (`on_one_cpu`).
"""

from __future__ import annotations

import os
import random
import secrets
import sqlite3
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench._common import SeededSessions, median
from kavach_fastapi.models import User
from kavach_fastapi.session_memory import ActiveSession, Remembered, SessionMemory
from kavach_fastapi.store import Store

LOOKUP_CHUNK = 50
"""Lookups timed in one go before the other table takes its turn."""

_FIND_SESSION_SQL = (
    "SELECT s.expires_at, s.last_active_at, u.id, u.email, u.email_verified, u.name, u.image,"
    " u.created_at, u.updated_at FROM kavach_sessions AS s JOIN kavach_users AS u"
    " ON u.id = s.user_id WHERE s.token_hash = {param}"
)


@dataclass
class LookupResult:
    """Cost of one lookup, in microseconds, per number of stored sessions."""

    wall_us: dict[int, float] = field(default_factory=dict)
    cpu_us: dict[int, float] = field(default_factory=dict)
    raw_us: dict[int, float] = field(default_factory=dict)
    plan: str = ""
    one_cpu: bool = False
    """Whether the lookups were timed on one CPU (with PostgreSQL's server, for PostgreSQL)."""

    def over_driver(self, n: int) -> float:
        """How many times the bare driver's time a lookup takes."""
        return self.wall_us[n] / self.raw_us[n]


def _postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (the postmaster and its backends)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                name = Path(entry.path, "comm").read_text().strip()
            except OSError:
                continue
            if name == "postgres":
                pids.append(int(entry.name))
    return pids


@contextmanager
def on_one_cpu(*, postgres: bool) -> Iterator[bool]:
    """Run this process, and with ``postgres`` the local PostgreSQL server's, on one CPU for
    the block.

    A lookup is a round trip to a PostgreSQL backend, and whether the backend shares this
    process's CPU or is woken on another changes its time by about 3x. The scheduler places
    each connection's backend as it goes, so the package's connection and the bare driver's
    were timed under different placements: in one run 3.9x on one table and 0.5x on the other,
    and 1.7x and 1.6x with both on one CPU. Backends started during the block inherit the
    postmaster's one CPU and keep it until they end (the lookups' own end with the block);
    every process that was moved gets its CPUs back.

    Yields:
        Whether this process could be pinned (Linux; PostgreSQL's only if it may, as root).
    """
    if not hasattr(os, "sched_setaffinity"):
        yield False
        return
    mine = os.sched_getaffinity(0)
    cpu = {min(mine)}
    restore: dict[int, set[int]] = {}
    for pid in (0, *(_postgres_pids() if postgres else ())):
        try:
            before = os.sched_getaffinity(pid)
            os.sched_setaffinity(pid, cpu)
        except OSError:
            continue  # not ours to move, or gone
        restore[pid] = before
    try:
        yield 0 in restore
    finally:
        for pid, cpus in restore.items():
            with suppress(OSError):  # a backend that has ended
                os.sched_setaffinity(pid, cpus)


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


class BareDriver:
    """The same SQL on one connection of the bare driver: ``sqlite3``, or asyncpg with a
    prepared statement. Timed in the same chunks as the package, taking turns with it."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._sqlite_path = parsed.database if parsed.get_backend_name() == "sqlite" else None
        self._url = url
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: Any = None
        self._statement: Any = None

    async def open(self, probe: str) -> str:
        """Connect and prepare; the query plan for ``probe``."""
        if self._sqlite_path is not None:
            self._sqlite = sqlite3.connect(self._sqlite_path)
            sql = _FIND_SESSION_SQL.format(param="?")
            explained = self._sqlite.execute(f"EXPLAIN QUERY PLAN {sql}", (probe,))
            return " / ".join(str(row[-1]) for row in explained)
        import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - optional extra

        self._postgres = await asyncpg.connect(self._url)
        sql = _FIND_SESSION_SQL.format(param="$1")
        rows = await self._postgres.fetch(f"EXPLAIN {sql}", probe)
        self._statement = await self._postgres.prepare(sql)
        return " / ".join(str(row[0]).strip() for row in rows)

    async def time(self, hashes: Sequence[str]) -> float:
        """Wall microseconds per lookup over ``hashes``, one at a time."""
        began = time.perf_counter()
        if self._sqlite is not None:
            sql = _FIND_SESSION_SQL.format(param="?")
            for token_hash in hashes:
                if self._sqlite.execute(sql, (token_hash,)).fetchone() is None:
                    raise RuntimeError("a stored session was not found")
        else:
            for token_hash in hashes:
                if await self._statement.fetchrow(token_hash) is None:
                    raise RuntimeError("a stored session was not found")
        return (time.perf_counter() - began) / len(hashes) * 1e6

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()


async def measure_lookups(
    urls: dict[int, str], seeded: dict[int, SeededSessions], *, lookups: int, rounds: int
) -> LookupResult:
    """Time find_session and the bare driver on each database, in small chunks taking turns
    (package and driver, and one table and the other), so that whatever else the machine does
    falls on all of them alike."""
    result = LookupResult()
    rng = random.Random(7)
    # Drawn with replacement: the small table has fewer sessions than a round has lookups.
    samples = {n: rng.choices(s.token_hashes, k=lookups) for n, s in seeded.items()}
    stores = {n: Store(url) for n, url in urls.items()}
    drivers = {n: BareDriver(url) for n, url in urls.items()}
    timing_postgres = any(make_url(url).get_backend_name() != "sqlite" for url in urls.values())
    with on_one_cpu(postgres=timing_postgres) as one_cpu:
        result.one_cpu = one_cpu
        try:
            for n, store in stores.items():
                result.plan = await drivers[n].open(samples[n][0])
                await time_lookups(store, samples[n])  # warm-up: pool, compiled SQL, page cache
                await drivers[n].time(samples[n])
            wall: dict[int, list[float]] = {n: [] for n in urls}
            cpu: dict[int, list[float]] = {n: [] for n in urls}
            raw: dict[int, list[float]] = {n: [] for n in urls}
            for _ in range(rounds):
                spent = dict.fromkeys(urls, 0.0)
                used = dict.fromkeys(urls, 0.0)
                bare = dict.fromkeys(urls, 0.0)
                for number, start in enumerate(range(0, lookups, LOOKUP_CHUNK)):
                    turns = list(stores.items())
                    for n, store in turns if number % 2 == 0 else reversed(turns):
                        chunk = samples[n][start : start + LOOKUP_CHUNK]
                        if number % 2:
                            bare[n] += await drivers[n].time(chunk) * len(chunk)
                        chunk_wall, chunk_cpu = await time_lookups(store, chunk)
                        if not number % 2:
                            bare[n] += await drivers[n].time(chunk) * len(chunk)
                        spent[n] += chunk_wall * len(chunk)
                        used[n] += chunk_cpu * len(chunk)
                for n in urls:
                    wall[n].append(spent[n] / len(samples[n]))
                    cpu[n].append(used[n] / len(samples[n]))
                    raw[n].append(bare[n] / len(samples[n]))
            result.wall_us = {n: median(values) for n, values in wall.items()}
            result.cpu_us = {n: median(values) for n, values in cpu.items()}
            result.raw_us = {n: median(values) for n, values in raw.items()}
        finally:
            for store in stores.values():
                await store.dispose()
            for driver in drivers.values():
                await driver.close()
    return result


def bytes_per_remembered_session(count: int = 10_000) -> float:
    """What one remembered session costs in memory (``tracemalloc``), for realistic users."""
    now = datetime.now(timezone.utc)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        memory = SessionMemory(None, bound=1.0, capacity=count)
        for n in range(count):
            user = User(
                id=secrets.token_hex(16),
                email=f"person.number{n}@example.com",
                email_verified=True,
                name=f"Person Number {n}",
                image=f"https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/{secrets.token_hex(12)}/128",
                created_at=now,
            )
            token_hash = secrets.token_hex(32)
            active = ActiveSession(
                user=user, token_hash=token_hash, expires_at=now + timedelta(days=7)
            )
            memory.remember(
                token_hash,
                Remembered(active, time.monotonic(), now.timestamp(), now.timestamp()),
                epoch=memory.epoch,
            )
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(memory) == count
    return used / count
