"""Hooks: the app's code at sign-in, sign-out and when a grant needs consent again.

Every sign-in goes through the emulator's consent page. A refusing or raising hook must leave
nothing behind: the tests count the users, accounts and sessions afterwards. Every test runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import (
    ConfigurationError,
    KavachHooks,
    ReauthEvent,
    Refuse,
    SignInCandidate,
    SignInEvent,
    SignOutEvent,
    kavach_router,
)
from kavach_fastapi.crypto import hash_token
from kavach_fastapi.devices import Device
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.retry import SHORT_WRITE
from kavach_fastapi.store.signins import NewSession
from kavach_fastapi.tables import utcnow
from kavach_fastapi.testing import emulator_provider, sign_in

from ..databases import TestDatabase
from ..support.database_outages import statements_fail
from .conftest import another_browser
from .policy_apps import (
    NOTHING,
    PREFIX,
    landing_query,
    policy_app,
    row_counts,
    started,
    try_sign_in,
)

ADA = "712020:2f6c1e0a-4b7d-4e8a-9c3f-5d1b2a7e6f01"
ENGINEERING = "1f7c2a3e-9b4d-4c5a-8e6f-2d3b4c5a6e7f"
WIKI = "6b8e4d2c-3a1f-4e9b-a7c6-5f0d1e2b3c4a"
SIGNED_IN = {"kavach_users": 1, "kavach_accounts": 1, "kavach_sessions": 1}


Event = TypeVar("Event")


class HookError(RuntimeError):
    pass


def assert_sign_in_fails_leaving_nothing(
    db: TestDatabase, emulator: AtlassianEmulator, hooks: KavachHooks
) -> None:
    """Sign in through an app with ``hooks``: the callback lands on ``sign_in_failed``, the
    browser is not signed in, and no user, account or session is left in the database."""
    with started(policy_app(db, emulator, hooks=hooks)) as client:
        answer = try_sign_in(client, emulator)
        assert landing_query(answer) == {"error": "sign_in_failed"}
        assert client.get("/me").status_code == 401
    assert row_counts(db) == NOTHING


def assert_reauth_required_once_the_grant_is_revoked(
    client: TestClient, db: TestDatabase, emulator: AtlassianEmulator
) -> None:
    """Ada revokes the grant at Atlassian and her token ages: ``/token`` answers 401
    ``reauth_required``."""
    emulator.revoke_grant(ADA)
    db.execute(
        "UPDATE kavach_accounts SET access_token_expires_at = :at",
        at=utcnow() - timedelta(minutes=5),
    )
    answer = client.get("/token")
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "reauth_required")


@contextmanager
def undo_fails(app: FastAPI, *, times: int) -> Iterator[list[str]]:
    """The undo of a sign-in fails ``times`` times at its last statement (the delete of the
    user it created), as if the database were locked past its busy timeout (which the app
    counts as unavailable, on either database): its earlier deletes are rolled back with it.

    Yields the failed statements.
    """
    engine = app.state.kavach.store.database.engine.sync_engine
    with statements_fail(
        engine, lambda statement: statement.startswith("DELETE FROM kavach_users "), times=times
    ) as failed:
        yield failed


@contextmanager
def session_tokens_made(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every session token the app makes while inside, handed out or not."""
    sessions = app.state.kavach.sessions
    made = sessions.new_session
    tokens: list[str] = []

    def noted(now: Any, device: Device) -> tuple[str, NewSession]:
        token, new = made(now, device)
        tokens.append(token)
        return token, new

    with monkeypatch.context() as patch:
        patch.setattr(sessions, "new_session", noted)
        yield tokens


async def billing_down(event: SignInEvent) -> None:
    raise HookError("could not create the billing customer")


def noting_in(events: list[Event]) -> Callable[[Event], Awaitable[None]]:
    """A hook that notes every event it hears in ``events``."""

    async def note(event: Event) -> None:
        events.append(event)

    return note


def test_before_sign_in_sees_the_profile_and_the_merged_sites_and_lets_the_person_in(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    seen: list[SignInCandidate] = []

    async def before(candidate: SignInCandidate) -> Refuse | None:
        seen.append(candidate)
        return None

    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(before_sign_in=before))
    with started(app) as client:
        sign_in(client, atlassian_emulator)
        assert client.get("/me").status_code == 200
        # The sites the sign-in read fill the cache: no second accessible-resources call.
        calls = atlassian_emulator.calls["accessible_resources"]
        assert {site["id"] for site in client.get("/sites").json()} == {ENGINEERING, WIKI}
        assert atlassian_emulator.calls["accessible_resources"] == calls

    (candidate,) = seen
    assert candidate.provider == "atlassian"
    assert candidate.profile.account_id == ADA
    assert candidate.profile.email == "ada@example.com"
    assert sorted(site.id for site in candidate.sites) == sorted([ENGINEERING, WIKI])
    engineering = next(site for site in candidate.sites if site.id == ENGINEERING)
    assert "jira" in engineering.products
    assert "read:jira-user" in candidate.scopes
    assert row_counts(db) == SIGNED_IN


def test_a_refusing_before_sign_in_lands_with_its_reason_and_writes_nothing(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    async def only_grace(candidate: SignInCandidate) -> Refuse | None:
        return None if candidate.profile.name == "Grace Hopper" else Refuse("not_on_the_team")

    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(before_sign_in=only_grace))
    with started(app) as client:
        answer = try_sign_in(client, atlassian_emulator)
        assert landing_query(answer) == {"error": "sign_in_refused", "reason": "not_on_the_team"}
        assert "kavach_session" not in answer.headers.get("set-cookie", "")
        assert client.get("/me").status_code == 401
        assert row_counts(db) == NOTHING

        grace = atlassian_emulator.users[1]
        assert landing_query(try_sign_in(client, atlassian_emulator, user=grace)) == {}
        assert client.get("/me").json()["name"] == "Grace Hopper"


def test_a_refusal_answers_a_json_client_403_with_the_hooks_message(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    async def nobody(candidate: SignInCandidate) -> Refuse | None:
        return Refuse("closed", "Sign-ups are closed this week.")

    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(before_sign_in=nobody))
    with started(app) as client:
        answer = try_sign_in(client, atlassian_emulator, headers={"accept": "application/json"})

    assert answer.status_code == 403
    assert answer.json()["error"] == {
        "code": "sign_in_refused",
        "message": "Sign-ups are closed this week.",
    }
    assert row_counts(db) == NOTHING


def test_a_raising_before_sign_in_ends_the_sign_in_cleanly_and_logs_without_tokens(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(candidate: SignInCandidate) -> Refuse | None:
        raise HookError("the team directory is down")

    with caplog.at_level(logging.INFO, logger="kavach_fastapi"):
        hooks = KavachHooks(before_sign_in=broken)
        assert_sign_in_fails_leaving_nothing(db, atlassian_emulator, hooks)

    assert "kavach hook before_sign_in failed: HookError: the team directory is down" in caplog.text
    assert "Traceback" not in caplog.text
    tokens = [*atlassian_emulator.state.access_tokens, *atlassian_emulator.state.refresh_tokens]
    assert tokens
    assert not any(token in caplog.text for token in tokens)


def test_a_before_sign_in_returning_something_else_than_refuse_or_none_fails_closed(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    async def sloppy(candidate: SignInCandidate) -> Refuse | None:
        return False  # type: ignore[return-value]

    hooks = KavachHooks(before_sign_in=sloppy)
    assert_sign_in_fails_leaving_nothing(db, atlassian_emulator, hooks)


def test_user_created_runs_once_and_signed_in_at_every_sign_in(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    created: list[SignInEvent] = []
    signed_in: list[SignInEvent] = []
    hooks = KavachHooks(user_created=noting_in(created), signed_in=noting_in(signed_in))
    app = policy_app(db, atlassian_emulator, hooks=hooks)
    with started(app) as client:
        sign_in(client, atlassian_emulator)
        user_id = client.get("/me").json()["id"]
        sign_in(client, atlassian_emulator)

    assert [event.user.id for event in created] == [user_id]
    assert created[0].new_user is True
    assert created[0].profile.account_id == ADA
    assert [(event.user.id, event.new_user) for event in signed_in] == [
        (user_id, True),
        (user_id, False),
    ]
    assert signed_in[0].sites == ()  # no policy and no before_sign_in: the sites were not read


def test_a_raising_user_created_undoes_the_new_user_account_and_session(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: SignInEvent) -> None:
        raise HookError("could not create the billing customer")

    with caplog.at_level(logging.ERROR, logger="kavach_fastapi"):
        hooks = KavachHooks(user_created=broken)
        assert_sign_in_fails_leaving_nothing(db, atlassian_emulator, hooks)

    assert "kavach hook user_created failed: HookError" in caplog.text


def test_an_undo_the_database_fails_once_is_tried_again_and_leaves_nothing(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(user_created=billing_down))
    with started(app) as client:
        with undo_fails(app, times=1) as failed:
            answer = try_sign_in(client, atlassian_emulator)
        assert landing_query(answer) == {"error": "sign_in_failed"}
        assert "kavach_session" not in answer.headers.get("set-cookie", "")
        assert client.get("/me").status_code == 401

    assert len(failed) == 1
    assert row_counts(db) == NOTHING


def test_an_undo_the_database_never_takes_still_answers_sign_in_failed_and_its_session_is_unusable(
    db: TestDatabase,
    atlassian_emulator: AtlassianEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(user_created=billing_down))
    with started(app) as client:
        with (
            caplog.at_level(logging.INFO, logger="kavach_fastapi"),
            undo_fails(app, times=SHORT_WRITE.attempts + 5) as failed,
            session_tokens_made(app, monkeypatch) as made,
        ):
            answer = try_sign_in(client, atlassian_emulator)
        assert landing_query(answer) == {"error": "sign_in_failed"}
        assert client.get("/me").status_code == 401
        left = row_counts(db)
        (user_id,) = (row[0] for row in db.rows("SELECT id FROM kavach_users"))
        stored = {row[0] for row in db.rows("SELECT token_hash FROM kavach_sessions")}
        # Unused, the leftover session is deleted by housekeeping once idle.
        db.execute(
            "UPDATE kavach_sessions SET last_active_at = :at", at=utcnow() - timedelta(days=2)
        )
        client.portal.call(app.state.kavach.housekeeper.sweep)  # type: ignore[union-attr]
        assert db.count("kavach_sessions") == 0

    assert len(failed) == SHORT_WRITE.attempts
    # The sign-in's rows stay: the user it created, their account, its session.
    assert left == SIGNED_IN
    # Its session's token reached no browser and no log: nobody can use that session.
    (first,) = made
    assert stored == {hash_token(first)}
    assert first not in str(answer.headers) + answer.text
    assert "kavach_session" not in answer.headers.get("set-cookie", "")
    lines = [record.getMessage() for record in caplog.records]
    assert any(
        f"sign-in of user {user_id} could not be undone after its hooks did not finish" in line
        and "the user it created stays" in line
        for line in lines
    ), lines
    emulator = atlassian_emulator.state
    tokens = [first, *emulator.access_tokens, *emulator.refresh_tokens]
    assert not any(token in line for token in tokens for line in lines)
    assert [record for record in caplog.records if record.exc_info] == []
    assert "Traceback" not in caplog.text


def test_a_raising_signed_in_keeps_the_existing_user_and_starts_no_session(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    fail = False

    async def flaky(event: SignInEvent) -> None:
        if fail:
            raise HookError("audit log unavailable")

    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(signed_in=flaky))
    with started(app) as client:
        sign_in(client, atlassian_emulator)
        assert row_counts(db) == SIGNED_IN
        fail = True
        with another_browser(client) as other:
            answer = try_sign_in(other, atlassian_emulator)
            assert landing_query(answer) == {"error": "sign_in_failed"}
            assert other.get("/me").status_code == 401
        # The first browser's session is untouched; the failed sign-in's session is gone.
        assert client.get("/me").status_code == 200
    assert row_counts(db) == SIGNED_IN


def test_reauth_needed_hears_of_a_revoked_grant(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    events: list[ReauthEvent] = []
    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(reauth_needed=noting_in(events)))
    with started(app) as client:
        sign_in(client, atlassian_emulator)
        user_id = client.get("/me").json()["id"]
        assert_reauth_required_once_the_grant_is_revoked(client, db, atlassian_emulator)
        assert client.get("/token").status_code == 401  # marked: the hook is not heard twice

    assert events == [ReauthEvent(user_id, "atlassian", "grant_revoked")]


def test_a_raising_reauth_needed_hook_is_logged_and_the_answer_stays_reauth_required(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: ReauthEvent) -> None:
        raise HookError("mailer down")

    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(reauth_needed=broken))
    with caplog.at_level(logging.ERROR, logger="kavach_fastapi"), started(app) as client:
        sign_in(client, atlassian_emulator)
        assert_reauth_required_once_the_grant_is_revoked(client, db, atlassian_emulator)

    assert "kavach hook reauth_needed failed: HookError: mailer down" in caplog.text


def test_signed_out_hears_whose_session_ended_and_a_raising_one_does_not_stop_it(
    db: TestDatabase, atlassian_emulator: AtlassianEmulator
) -> None:
    events: list[SignOutEvent] = []

    async def on_sign_out(event: SignOutEvent) -> None:
        events.append(event)
        raise HookError("after the fact")

    app = policy_app(db, atlassian_emulator, hooks=KavachHooks(signed_out=on_sign_out))
    with started(app) as client:
        sign_in(client, atlassian_emulator)
        user_id = client.get("/me").json()["id"]
        answer = client.post(f"{PREFIX}/auth/sign-out")
        assert answer.status_code == 200
        assert client.get("/me").status_code == 401
        # Nobody signed in: nothing ended, nothing to hear.
        assert client.post(f"{PREFIX}/auth/sign-out").status_code == 200

    assert events == [SignOutEvent(user_id)]
    assert db.count("kavach_sessions") == 0


def test_refuse_takes_only_a_short_code_that_fits_in_a_url() -> None:
    with pytest.raises(ValueError, match="short lower-case code"):
        Refuse("Not Allowed!")
    with pytest.raises(ValueError, match="short lower-case code"):
        Refuse("x" * 65)
    assert Refuse("not_staff").reason == "not_staff"


def test_hooks_must_be_a_kavach_hooks(atlassian_emulator: AtlassianEmulator) -> None:
    with pytest.raises(ConfigurationError, match=r"hooks= must be a KavachHooks"):
        kavach_router(
            [emulator_provider(atlassian_emulator)],
            secret="test-secret-0123456789-0123456789-abcdef",
            hooks={"before_sign_in": None},  # type: ignore[arg-type]
        )
