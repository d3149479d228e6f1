"""Keeping idle grants alive: ``refresh_idle_grants`` alone, two runs at once, and a run after.

N people sign in through an app against the Atlassian emulator (in-process, over ASGI, with a
latency on each refresh as the real token endpoint has); their grants are then aged 40 days in
the database. Three rounds follow, each starting from the same aged grants where it says so:

* **alone**: one run (as ``kavach grants refresh-idle --older-than 30d``);
* **two at once**: two runs with runtimes of their own, as two overlapping cron jobs;
* **again**: a run right after, which must find nothing idle.

It prints the refreshes Atlassian saw per grant (the target: exactly 1, then 0), the time per
grant, and the two-run time as a ratio of the single run, measured in the same run, with the
load average. It asserts nothing; the checks print PASS/FAIL::

    python -m bench.refresh_idle            # N in (50, 200), SQLite and PostgreSQL (~1 min)
    python -m bench.refresh_idle --quick    # N = 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import timedelta

import httpx2
from sqlalchemy import update

from bench._common import BENCH_SECRET, DATABASES, mark, scratch_databases, table, unavailable
from kavach_fastapi import open_kavach
from kavach_fastapi.emulator import AtlassianEmulator, Fault
from kavach_fastapi.grants import IdleRefresh
from kavach_fastapi.store import Store
from kavach_fastapi.tables import AccountRow, utcnow
from kavach_fastapi.testing import emulator_provider, emulator_transport
from tests.support.apps import build_app, register_callback
from tests.support.browser import sign_in
from tests.support.people import people as crowd

APP = "http://bench"
REFRESH_LATENCY = 0.02
"""Seconds the emulator's token endpoint takes to answer a refresh."""


async def seed(database_url: str, emu: AtlassianEmulator) -> None:
    """Sign every emulated person in through the app's real endpoints."""
    app = build_app(
        [emulator_provider(emu)],
        database_url=database_url,
        secret=BENCH_SECRET,
        rate_limit=0,
        http_transport=emulator_transport(emu),
    )
    register_callback(emu, APP)
    async with app.router.lifespan_context(app):
        for user in emu.users:
            async with httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url=APP
            ) as browser:
                await sign_in(browser, emu, user=user)


async def age_all(database_url: str, days: int) -> None:
    store = Store(database_url)
    try:
        async with store.database.transaction() as session:
            await session.execute(
                update(AccountRow).values(updated_at=utcnow() - timedelta(days=days))
            )
    finally:
        await store.dispose()


async def one_run(database_url: str, emu: AtlassianEmulator) -> IdleRefresh:
    async with open_kavach(
        providers=[emulator_provider(emu)],
        http_transport=emulator_transport(emu),
        database_url=database_url,
        secret=BENCH_SECRET,
    ) as kavach:
        return await kavach.refresh_idle_grants(older_than=timedelta(days=30))


async def measure(database: str, database_url: str, people: int) -> list[list[object]]:
    emu = AtlassianEmulator(users=crowd(people))
    await seed(database_url, emu)
    emu.faults.add("refresh", Fault("latency", seconds=REFRESH_LATENCY))
    rows: list[list[object]] = []

    async def round_of(name: str, runs: int) -> float:
        before = emu.calls["refresh"]
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one_run(database_url, emu) for _ in range(runs)))
        seconds = time.perf_counter() - started
        refreshes = emu.calls["refresh"] - before
        by_runs = "+".join(str(outcome.refreshed) for outcome in outcomes)
        target = 0 if name == "again" else people
        rows.append([
            database, people, name, refreshes, f"{refreshes / people:.2f}", by_runs,
            f"{seconds * 1000 / people:.1f} ms", mark(refreshes == target),
        ])  # fmt: skip
        return seconds

    await age_all(database_url, 40)
    alone = await round_of("alone", 1)
    await age_all(database_url, 40)
    both = await round_of("two at once", 2)
    await round_of("again", 1)
    rows.append([database, people, "two at once / alone", "", "", "", f"{both / alone:.2f}x", ""])
    return rows


async def main(quick: bool) -> None:
    sizes = (50,) if quick else (50, 200)
    print(f"load average before: {os.getloadavg()}")
    rows: list[list[object]] = []
    skipped: list[str] = []
    for kind, name in DATABASES.items():
        problem = await unavailable(kind)
        if problem is not None:
            skipped.append(f"{name} skipped: {problem}")
            continue
        for people in sizes:
            async with scratch_databases(kind, f"idle{people}") as (url,):
                rows += await measure(kind, url, people)
    print(
        table(
            ["database", "grants", "round", "refreshes", "per grant", "by run", "time/grant",
             "check"],
            rows,
        )
    )  # fmt: skip
    for line in skipped:
        print(line)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 50 only")
    asyncio.run(main(parser.parse_args().quick))
