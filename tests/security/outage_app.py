"""The worker app of ``tests.integration``, logging the package's INFO lines to stderr.

Run under ``uvicorn --factory`` by the outage test, so the server's log shows what the package
says about an outage (a warning when it starts, an info line when it ends) next to anything
else a worker writes, tracebacks included.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from ..integration import worker_app

LOG_FORMAT = "%(process)d %(levelname)s %(name)s: %(message)s"


def create_app() -> FastAPI:
    """``worker_app.create_app()``, with ``kavach_fastapi`` logging at INFO to stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("kavach_fastapi")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return worker_app.create_app()
