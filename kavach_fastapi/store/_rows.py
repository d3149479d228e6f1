"""Helpers shared by the store's modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Result


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(getattr(result, "rowcount", 0))
