"""What the quota guard costs a product-API call: the in-process cache against a read per call.

``QuotaGuard.check`` runs before every product-API call. With ``KAVACH_QUOTA_CHECK_INTERVAL`` at
its default (1 s) a process reads ``kavach_quota_blocks`` at most once a second; at ``0`` it reads
before every call. This times both, the two taking turns every batch so background noise falls on
both alike, on a SQLite file and (when the server answers) on PostgreSQL, with a few blocks of
other sites stored. Prints calls per second and the ratio; nothing is asserted.

    .venv/bin/python -m bench.quota_guard [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import timedelta

from bench._common import DATABASES, median, scratch_databases, table, unavailable
from kavach_fastapi.quota import QuotaGuard
from kavach_fastapi.store import Store
from kavach_fastapi.store.quota import QuotaBlock
from kavach_fastapi.tables import utcnow

SITE = "1f7c2a3e-9b4d-4c5a-8e6f-2d3b4c5a6e7f"
BATCH = 100


async def calls_per_second(guard: QuotaGuard, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await guard.check("atlassian", SITE)
    return calls / (time.perf_counter() - started)


async def measure(url: str, *, calls: int, rounds: int) -> tuple[float, float]:
    store = Store(url)
    try:
        now = utcnow()
        for number in range(5):  # other sites blocked: the read returns rows
            block = QuotaBlock("atlassian", f"other-{number}", now + timedelta(hours=1), "busy")
            await store.quota.block(block, now=now)
        cached = QuotaGuard(store.quota, check_interval=1.0)
        uncached = QuotaGuard(store.quota, check_interval=0)
        fast: list[float] = []
        slow: list[float] = []
        for _ in range(rounds):
            for _ in range(max(1, calls // BATCH)):
                fast.append(await calls_per_second(cached, BATCH))
                slow.append(await calls_per_second(uncached, BATCH))
        return median(fast), median(slow)
    finally:
        await store.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000, help="checks per round and setting")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows: list[list[object]] = []
    for kind, name in DATABASES.items():
        why = await unavailable(kind)
        if why is not None:
            print(f"{name} skipped: {why}")
            continue
        async with scratch_databases(kind, "quota") as (url,):
            fast, slow = await measure(url, calls=args.calls, rounds=args.rounds)
        rows.append([kind, f"{fast:,.0f}/s", f"{slow:,.0f}/s", f"{fast / slow:.1f}x"])
    load_after = os.getloadavg()
    print(
        table(
            ["database", "check, cached (1 s)", "check, read every call (0)", "cached / read"],
            rows,
        )
    )
    print(
        f"load average at start {load_before[0]:.2f}, at end {load_after[0]:.2f} "
        f"({os.cpu_count()} cores); medians of batches of {BATCH} checks"
    )


if __name__ == "__main__":
    asyncio.run(main())
