"""A configuration mistake that stops a program is told in one line, not a traceback.

``uvicorn main:app`` imports the app; when ``kavach_router()`` or ``atlassian_provider()``
meets a missing or invalid setting there, the `ConfigurationError` travels up to the top of
the program and Python would print a traceback of the import machinery and uvicorn's loader
around the one sentence that names the fix. These functions, when they raise it, ask Python to
print just ``kavach: <the sentence>`` should it go uncaught. An app that catches the error sees
it as always; any other uncaught exception is reported as before.

A database out of reach when the app starts fails its lifespan instead, and the server (uvicorn)
logs the lifespan's traceback; `said_in_one_line_by_the_server` has that log record carry just
the sentence too.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

from .errors import ConfigurationError, KavachError

P = ParamSpec("P")
R = TypeVar("R")

_installed = False


def said_in_one_line(function: Callable[P, R]) -> Callable[P, R]:
    """Wrap a function the app calls at import: its `ConfigurationError`, if uncaught, is one line."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except ConfigurationError:
            _install()
            raise

    return wrapper


def _install() -> None:
    global _installed  # noqa: PLW0603 - one hook per interpreter, however often it is asked
    if _installed:
        return
    previous = sys.excepthook

    def excepthook(
        kind: type[BaseException], value: BaseException, traceback: TracebackType | None
    ) -> None:
        if isinstance(value, ConfigurationError):
            sys.stderr.write(f"kavach: {value}\n")
        else:
            previous(kind, value, traceback)

    sys.excepthook = excepthook
    _installed = True


SERVER_LOGGER = "uvicorn.error"
"""Where uvicorn (also as gunicorn's worker) logs a failed lifespan start."""


def said_in_one_line_by_the_server(error: KavachError) -> None:
    """Have the server's report of ``error`` failing the lifespan be ``kavach: <sentence>``.

    Only a traceback record that ends in this error is shortened; every other record passes
    untouched, and the filter goes once it has done its work.
    """
    server = logging.getLogger(SERVER_LOGGER)
    ending = f"{type(error).__name__}: {error}"

    class OneLine(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            message = record.getMessage()
            if message.startswith("Traceback") and message.rstrip().endswith(ending):
                record.msg, record.args, record.exc_info = f"kavach: {error}", (), None
                server.removeFilter(self)
            return True

    server.addFilter(OneLine())
