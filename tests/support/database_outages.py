"""A database that fails chosen statements, as if it were locked past its busy timeout.

``sqlite3.OperationalError("database is locked")`` is what the app counts as unavailable on
either database (`kavach_fastapi.outages`), so the write under test goes through everything the
app does with a real failure: the transaction is rolled back and the app's own handling runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def statements_fail(
    engine: Engine, failing: Callable[[str], bool], *, times: int
) -> Iterator[list[str]]:
    """The first ``times`` statements of ``engine`` for which ``failing`` is true fail.

    Raised from the engine's ``before_cursor_execute`` event, before the statement reaches the
    database. Yields the statements that failed, in order.
    """
    failed: list[str] = []

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if len(failed) < times and failing(statement):
            failed.append(statement)
            raise sqlite3.OperationalError("database is locked")

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", fail)
