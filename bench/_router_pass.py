"""What an app's own route pays for the kavach router included before it.

Part of ``bench/current_user.py``. FastAPI (0.165 and later) tries an included router's routes
one by one for every request that reaches it; the kavach router turns away at once a path that
none of its routes can have (`kavach_fastapi.router.KavachRouter.matches`). Three apps answer
``GET /bare`` the same way: one without the router, one that includes it after its route, and
one that includes it before (as most apps do). Each is called as an ASGI app, in-process (no
server, no socket, nothing started), the three taking turns, and the medians are reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI

from bench._common import BENCH_SECRET, median
from kavach_fastapi import atlassian_provider, kavach_router

LAYOUTS = {
    "without the kavach router": (False, True),
    "the kavach router included after it": (True, True),
    "the kavach router included before it": (True, False),
}
"""How the app is laid out: (includes the router, the route comes first)."""


def _app(*, with_router: bool, route_first: bool) -> FastAPI:
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


def _caller(app: FastAPI) -> Callable[[], Coroutine[Any, Any, None]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/bare",
        "raw_path": b"/bare",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"/bare answered {message['status']}")

    async def call() -> None:
        await app(dict(scope), receive, send)  # type: ignore[arg-type]

    return call


async def time_router_pass(rounds: int = 9, calls: int = 3000) -> dict[str, float]:
    """Microseconds per ``GET /bare`` in each layout of `LAYOUTS` (medians of ``rounds``)."""
    callers = {
        label: _caller(_app(with_router=with_router, route_first=first))
        for label, (with_router, first) in LAYOUTS.items()
    }
    times: dict[str, list[float]] = {label: [] for label in callers}
    for _ in range(rounds):
        for label, call in callers.items():
            began = time.perf_counter()
            for _ in range(calls):
                await call()
            times[label].append((time.perf_counter() - began) / calls * 1e6)
    return {label: median(values) for label, values in times.items()}


def router_pass_report(times: dict[str, float]) -> str:
    """The lines the benchmark prints."""
    plain = times["without the kavach router"]
    lines = [
        "\n== A route of the app beside the kavach router (GET /bare called in-process, "
        "no server; medians) =="
    ]
    for label, us in times.items():
        lines.append(f"  {label:40s} {us:6.1f} us  ({us / plain:.2f}x)")
    return "\n".join(lines)
