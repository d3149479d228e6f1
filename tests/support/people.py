"""Crowds of emulated Atlassian people, for tests and benchmarks that need many distinct ones.

The emulator's own `default_users` are two people with full profiles; a test of a report over
200 accounts, or a benchmark of 200 concurrent sign-ins, needs a crowd of its own instead.
"""

from __future__ import annotations

from kavach_fastapi.emulator import EmulatedUser

__all__ = ["people"]


def people(count: int, tag: str = "person") -> list[EmulatedUser]:
    """``count`` distinct people: account ``712020:<tag>-00000``, email ``<tag>-0@example.com``...

    The same ``count`` and ``tag`` always give the same people; crowds of different tags share
    no account id and no email, so one emulator can hold several.
    """
    return [
        EmulatedUser(
            account_id=f"712020:{tag}-{index:05d}",
            name=f"{tag.capitalize()} {index}",
            email=f"{tag}-{index}@example.com",
        )
        for index in range(count)
    ]
