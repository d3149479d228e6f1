"""The undo of a sign-in whose hook raised: finished even when its request is cancelled."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from kavach_fastapi import signin
from kavach_fastapi.errors import DatabaseUnavailableError
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


def service_of(signins: FlakySignIns) -> SignInService:
    """A sign-in service over ``signins``; nothing else of it is used here."""
    unused = cast(Any, None)
    return SignInService(unused, cast(Any, signins), unused, unused, {}, max_pending=1)


async def test_an_undo_under_way_when_its_request_is_cancelled_is_finished_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signin, "UNDO_BACKOFF", 0.01)
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
