"""The undo of a sign-in whose hook raised, or whose request was cancelled while a hook ran:
finished even when its request is cancelled."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, cast

import pytest

from kavach_fastapi import KavachHooks, SignInEvent, signin
from kavach_fastapi.errors import DatabaseUnavailableError
from kavach_fastapi.models import User
from kavach_fastapi.retry import SHORT_WRITE
from kavach_fastapi.signin import SignInService
from kavach_fastapi.store.signins import RecordedSignIn
from kavach_fastapi.tables import UserRow, utcnow


class FlakySignIns:
    """A sign-in store whose database is unavailable for the first undo, then slow."""

    def __init__(self) -> None:
        self.tries = 0
        self.retrying = asyncio.Event()
        self.undone = asyncio.Event()

    async def undo_sign_in(self, recorded: RecordedSignIn) -> None:
        self.tries += 1
        if self.tries == 1:
            raise DatabaseUnavailableError
        self.retrying.set()
        await asyncio.sleep(0.2)
        self.undone.set()


class RecordingSignIns:
    """A sign-in store that only records the undos asked of it."""

    def __init__(self) -> None:
        self.undone: list[RecordedSignIn] = []

    async def undo_sign_in(self, recorded: RecordedSignIn) -> None:
        self.undone.append(recorded)


def service_of(
    signins: FlakySignIns | RecordingSignIns, hooks: KavachHooks | None = None
) -> SignInService:
    """A sign-in service over ``signins``; nothing else of it is used here."""
    unused = cast(Any, None)
    return SignInService(
        unused, cast(Any, signins), unused, unused, {}, max_pending=1, hooks=hooks or KavachHooks()
    )


def a_recorded_sign_in() -> tuple[RecordedSignIn, SignInEvent]:
    """A sign-in that made a new user, as its write recorded it, and the hooks' event."""
    now = utcnow()
    row = UserRow(id="u1", created_at=now, updated_at=now)
    recorded = RecordedSignIn(row, True, "hash")
    return recorded, SignInEvent(User.from_row(row), "atlassian", cast(Any, None), True)


async def test_an_undo_under_way_when_its_request_is_cancelled_is_finished_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signin, "SHORT_WRITE", replace(SHORT_WRITE, backoff=0.01))
    signins = FlakySignIns()
    now = utcnow()
    recorded = RecordedSignIn(UserRow(id="u1", created_at=now, updated_at=now), True, "hash")
    undo = asyncio.ensure_future(service_of(signins)._undo(recorded))
    await asyncio.wait_for(signins.retrying.wait(), timeout=5)  # the first try failed

    undo.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(undo, timeout=5)

    assert signins.undone.is_set()  # the retry was not cut in two
    assert signins.tries == 2


async def test_a_request_cancelled_while_a_hook_runs_has_the_sign_in_undone() -> None:
    in_the_hook = asyncio.Event()

    async def slow_user_created(event: SignInEvent) -> None:
        in_the_hook.set()
        await asyncio.sleep(60)  # the person closes the tab meanwhile

    signins = RecordingSignIns()
    recorded, event = a_recorded_sign_in()
    service = service_of(signins, KavachHooks(user_created=slow_user_created))
    hooks = asyncio.ensure_future(service._run_hooks(event, recorded))
    await asyncio.wait_for(in_the_hook.wait(), timeout=5)

    hooks.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(hooks, timeout=5)

    assert signins.undone == [recorded]


async def test_hooks_that_return_leave_the_sign_in_as_it_was_written() -> None:
    ran: list[str] = []

    async def user_created(event: SignInEvent) -> None:
        ran.append("user_created")

    async def signed_in(event: SignInEvent) -> None:
        ran.append("signed_in")

    signins = RecordingSignIns()
    recorded, event = a_recorded_sign_in()
    hooks = KavachHooks(user_created=user_created, signed_in=signed_in)

    await service_of(signins, hooks)._run_hooks(event, recorded)

    assert ran == ["user_created", "signed_in"]
    assert signins.undone == []
