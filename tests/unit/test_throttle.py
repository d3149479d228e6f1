"""`OncePer`: at most once per interval for each key, with bounded memory."""

from __future__ import annotations

from kavach_fastapi.throttle import OncePer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_allowed_once_per_interval_and_again_after_it() -> None:
    clock = Clock()
    once = OncePer(60.0, clock=clock)

    assert once.allow("a")
    assert not once.allow("a")
    clock.now += 59.9
    assert not once.allow("a")
    clock.now += 0.2
    assert once.allow("a")


def test_keys_are_counted_apart() -> None:
    once = OncePer(60.0, clock=Clock())

    assert once.allow("a")
    assert once.allow("b")
    assert not once.allow("b")


def test_a_full_memory_forgets_the_keys_whose_interval_passed_but_not_the_others() -> None:
    clock = Clock()
    once = OncePer(10.0, capacity=2, clock=clock)
    once.allow("old")
    clock.now += 11
    once.allow("recent")

    assert once.allow("new")  # full: "old" is forgotten, "recent" is kept
    assert not once.allow("recent")
    clock.now += 0.1
    assert once.allow("old")
