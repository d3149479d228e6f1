"""Requests called in-process: an app as an ASGI callable, no server, no socket, no wrk.

Part of ``bench/current_user.py``. Through uvicorn and wrk on two shared cores, one run of a
route can differ from the next by a fifth, which is more than what a dependency costs. Called
in-process, the routes take turns in short slices (`SLICE` calls each), `TURNS` times over, so
that whatever else the machine does falls on all of them alike, and the median time of a call
per route is reported. The machine's speed still moves every figure from one run to the next
(a bare request took 45 us in one run, 60 in another), but their ratios hold to about 0.02.

Two measurements use it: what each route of the bench app costs per request (the floor of a
``Depends``, what ``CurrentUser`` adds to it, and the signed-cookie peer, `time_routes`; the
fastapi-users peer, 25 times slower through a server, would take longer than the rest of the
run here), and what an app's own route
pays for the kavach router included before it (`kavach_fastapi.router.KavachRouter.matches`,
`time_router_pass`).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from fastapi import FastAPI

from bench._common import (
    APP_DIR,
    APP_FACTORY,
    BEARER,
    BENCH_SECRET,
    FLOOR_LABEL,
    FLOOR_PATH,
    bench_app_environment,
    median,
    table,
)
from bench._lookups import on_one_cpu
from bench.peers import SIGNED_CARRIER, SIGNED_LABEL
from kavach_fastapi import atlassian_provider, kavach_router

SLICE = 100
"""Calls of one route timed in one go before the next route takes its turn."""
TURNS = 300
"""Turns each route takes."""

Caller = Callable[[], Awaitable[None]]
"""One ``GET`` through the app."""


def asgi_get(
    app: Any, path: str, tokens: Sequence[str] = (), carrier: tuple[str, str] = BEARER
) -> Caller:
    """A ``GET path`` through ``app``; each call carries the next of ``tokens`` (if any) as
    the server would hand it over (``Authorization: Bearer <token>`` by default), and raises
    ``RuntimeError`` if the app answers anything but 200."""
    header, prefix = carrier[0].lower().encode(), carrier[1].encode()
    values = [prefix + token.encode() for token in tokens]
    turn = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"{path} answered {message['status']}")

    async def call() -> None:
        nonlocal turn
        headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")]
        if values:
            headers.append((header, values[turn % len(values)]))
            turn += 1
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
        }
        await app(scope, receive, send)

    return call


async def alternate(
    callers: Mapping[str, Caller],
    *,
    turns: int = TURNS,
    calls: int = SLICE,
    before: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Microseconds per call of each caller: medians of ``turns`` slices of ``calls`` calls.

    Every call is followed by one pass of the event loop, so that work a request leaves to
    the background (an activity write, a feed read) runs in the slice of the route that
    caused it. ``before`` is called with the label before each slice.
    """
    for call in callers.values():  # warm: first calls build caches
        for _ in range(calls):
            await call()
    times: dict[str, list[float]] = {label: [] for label in callers}
    for _ in range(turns):
        for label, call in callers.items():
            if before is not None:
                before(label)
            began = time.perf_counter()
            for _ in range(calls):
                await call()
                await asyncio.sleep(0)
            times[label].append((time.perf_counter() - began) / calls * 1e6)
    return {label: median(values) for label, values in times.items()}


# What each route of the bench app costs

BARE_LABEL = "bare route"
CURRENT_USER = "CurrentUser"


def _bench_app_module() -> ModuleType:
    """``bench/apps/kavach_bench_app.py``, imported as uvicorn's ``--app-dir`` imports it."""
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    return importlib.import_module(APP_FACTORY.partition(":")[0])


@contextmanager
def _configured(database_url: str) -> Iterator[None]:
    """The environment the bench app is configured by, for the block (then as it was)."""
    wanted = bench_app_environment(database_url)
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def time_routes(
    database_url: str, tokens: Sequence[str], signed_cookies: Sequence[str] = ()
) -> dict[str, float]:
    """Microseconds per request of the bench app's ``/bare``, ``/dep`` and ``/me`` (with one
    session, and with all of ``tokens`` taking turns), called in-process on one CPU; and of
    the signed-cookie peer ``/sc/me`` with ``signed_cookies`` taking turns, if any are given.

    The app runs its lifespan against ``database_url`` (whose stored sessions ``tokens`` are),
    and checks every session once first, as a worker that has run a while has.
    """
    bench_app = _bench_app_module()
    with _configured(database_url):
        app: FastAPI = bench_app.create_app()
    async with app.router.lifespan_context(app):
        sessions = app.state.kavach.sessions
        for token in tokens:
            if await sessions.authenticate(token) is None:
                raise RuntimeError("a stored session was not found")
        loads = {
            BARE_LABEL: ("/bare", tokens[:1], BEARER),
            FLOOR_LABEL: (FLOOR_PATH, tokens[:1], BEARER),
            f"{CURRENT_USER}, 1 session": ("/me", tokens[:1], BEARER),
            f"{CURRENT_USER}, {len(tokens):,} sessions": ("/me", tokens, BEARER),
        }
        if signed_cookies:
            loads[f"{SIGNED_LABEL}, {len(signed_cookies):,} sessions"] = (
                "/sc/me",
                signed_cookies,
                SIGNED_CARRIER,
            )
        paths = {label: path for label, (path, _, _) in loads.items()}
        callers = {
            label: asgi_get(app, path, some, carrier)
            for label, (path, some, carrier) in loads.items()
        }
        with on_one_cpu(postgres=False):
            return await alternate(
                callers, before=lambda label: bench_app.put_route_first(app, paths[label])
            )


def routes_report(name: str, times: Mapping[str, float]) -> str:
    """The table `time_routes` prints for one database."""
    bare, floor = times[BARE_LABEL], times[FLOOR_LABEL]
    rows = []
    for label, us in times.items():
        rows.append(
            [
                label,
                f"{us:.1f}",
                "" if label == BARE_LABEL else f"{us - bare:+.1f}",
                f"{us - floor:+.1f}" if label.startswith(CURRENT_USER) else "",
                f"{bare / us:.2f}",
            ]
        )
    return (
        f"\n== One request called in-process ({name}; the bench app as an ASGI app, no server; "
        f"medians of {TURNS} turns of {SLICE} calls; us per request) ==\n"
        + table(["route", "us", "over bare", "over the floor", "bare / route"], rows)
    )


# What an app's route pays for the kavach router

LAYOUTS = {
    "without the kavach router": (False, True),
    "the kavach router included after it": (True, True),
    "the kavach router included before it": (True, False),
}
"""How the app is laid out: (includes the router, the route comes first)."""


def _layout(*, with_router: bool, route_first: bool) -> FastAPI:
    app = FastAPI()

    async def bare() -> dict[str, str]:
        return {"id": "0" * 32}

    if route_first:
        app.get("/bare")(bare)
    if with_router:
        provider = atlassian_provider("bench-client", "bench-secret")
        router = kavach_router([provider], secret=BENCH_SECRET, database_url="sqlite://")
        app.include_router(router, prefix="/api/kavach")
    if not route_first:
        app.get("/bare")(bare)
    return app


async def time_router_pass() -> dict[str, float]:
    """Microseconds per ``GET /bare`` in each layout of `LAYOUTS`.

    FastAPI (0.137 and later) tries an included router's routes one by one for every request
    that reaches it; the kavach router turns away at once a path that none of its routes can
    have. The apps are called without their lifespans: nothing is started.
    """
    callers = {
        label: asgi_get(_layout(with_router=with_router, route_first=first), "/bare")
        for label, (with_router, first) in LAYOUTS.items()
    }
    with on_one_cpu(postgres=False):
        return await alternate(callers)


def router_pass_report(times: Mapping[str, float]) -> str:
    """The lines the benchmark prints."""
    plain = times["without the kavach router"]
    lines = [
        "\n== A route of the app beside the kavach router (GET /bare called in-process, "
        f"no server; medians of {TURNS} turns of {SLICE} calls) =="
    ]
    for label, us in times.items():
        lines.append(f"  {label:40s} {us:6.1f} us  ({us / plain:.2f}x)")
    return "\n".join(lines)
