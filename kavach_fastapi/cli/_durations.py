"""Durations the ``kavach`` commands take (``--older-than 30d``); cheap, the parser imports it."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

_DURATION = re.compile(r"(\d+)\s*([dhw]?)")
_UNITS = {"": "days", "d": "days", "h": "hours", "w": "weeks"}


def duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w`` or a plain number of days."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: write a number of days such as 30d (or 12h, 2w)"
        )
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def days(delta: timedelta) -> float:
    """A duration in days, as a whole number when it is one."""
    value = delta / timedelta(days=1)
    return int(value) if value == int(value) else round(value, 3)
