"""What ``PRAGMA secure_delete=ON`` (on for every kavach SQLite connection) costs, in one run.

Two SQLite files get the package's schema and the same seeded sessions. Then, interleaved batch by
batch so that both see the same machine: deleting sessions 500 at a time (what housekeeping does)
and rewriting user rows (what a sign-in does), on one connection with ``secure_delete=ON`` and one
with it ``OFF``, both with the package's WAL and ``synchronous=NORMAL``. It prints the median cost
of a batch and the ratio ON / OFF, with the load average. Nothing is asserted about time::

    .venv/bin/python -m bench.secure_delete            # about 20 seconds
    .venv/bin/python -m bench.secure_delete --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import time
from pathlib import Path

from bench._common import median, scratch_dir, seed_sessions, sqlite_url, table
from tests.databases import upgrade_schema

BATCH = 500


def _connect(path: Path, secure: bool) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA secure_delete={'ON' if secure else 'OFF'}")
    return connection


def _delete_batch(connection: sqlite3.Connection) -> float:
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "DELETE FROM kavach_sessions WHERE token_hash IN "
        "(SELECT token_hash FROM kavach_sessions LIMIT ?)",
        (BATCH,),
    )
    connection.execute("COMMIT")
    return time.perf_counter() - started


def _rewrite_users(connection: sqlite3.Connection, round_: int) -> float:
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "UPDATE kavach_users SET name = ? WHERE rowid IN (SELECT rowid FROM kavach_users LIMIT ?)",
        (f"Person renamed {round_}", BATCH),
    )
    connection.execute("COMMIT")
    return time.perf_counter() - started


async def main(quick: bool) -> None:
    sessions = 20_000 if quick else 100_000
    with scratch_dir("kavach-bench-secure-delete-") as folder:
        paths = {secure: folder / f"secure-{secure}.db" for secure in (True, False)}
        for path in paths.values():
            await upgrade_schema(sqlite_url(path))
            await seed_sessions(sqlite_url(path), sessions, users=2_000, keep_tokens=0)
        connections = {secure: _connect(path, secure) for secure, path in paths.items()}
        deletes: dict[bool, list[float]] = {True: [], False: []}
        updates: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(sessions // BATCH):
            order = (True, False) if round_ % 2 == 0 else (False, True)
            for secure in order:
                deletes[secure].append(_delete_batch(connections[secure]))
                updates[secure].append(_rewrite_users(connections[secure], round_))
        for connection in connections.values():
            connection.close()
    rows = []
    for name, timings in (("delete 500 sessions", deletes), ("rewrite 500 user rows", updates)):
        on, off = median(timings[True]) * 1000, median(timings[False]) * 1000
        rows.append([name, f"{on:.2f} ms", f"{off:.2f} ms", f"{on / off:.2f}x"])
    print(f"SQLite {sqlite3.sqlite_version}, {sessions} sessions, {sessions // BATCH} rounds")
    print(table(["operation (median of a batch)", "secure_delete=ON", "OFF", "ON / OFF"], rows))
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 sessions instead of 100,000")
    asyncio.run(main(parser.parse_args().quick))
