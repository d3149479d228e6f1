"""What a request behind ``CurrentUser`` costs, held in shape rather than in time.

Every request behind ``CurrentUser`` pays FastAPI for each dependency it solves (four levels
of security dependencies once cost about half of what a bare route costs), and a remembered
session is answered without waiting for anything. Both are checked here as facts that cannot
drift with the machine's speed: the dependency tree FastAPI solves, and whether the dependency
completes without once giving the event loop back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from kavach_fastapi.dependencies import active_session, current_user, optional_user
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in

from ..databases import TestDatabase
from ..support.apps import add_user_routes, build_app
from .conftest import SECRET, database_url

ATTEMPTS = 5


def solved_beneath(app: FastAPI, path: str) -> list[Dependant]:
    """The dependencies FastAPI solves for a route, before its endpoint."""
    route = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == path)
    return route.dependant.dependencies


def only_the_request(dependant: Dependant) -> bool:
    """Whether FastAPI gives this dependency the request and nothing else to solve."""
    return (
        dependant.dependencies == []
        and not dependant.path_params
        and not dependant.query_params
        and not dependant.header_params
        and not dependant.cookie_params
        and not dependant.body_params
        and dependant.request_param_name is not None
        and dependant.security_scopes_param_name is None
    )


def test_current_user_and_optional_user_are_each_one_dependency_of_the_request_alone() -> None:
    app = add_user_routes(FastAPI())  # GET /me takes CurrentUser, GET /maybe OptionalUser

    for path, dependency in (("/me", current_user), ("/maybe", optional_user)):
        beneath = solved_beneath(app, path)
        assert [d.call for d in beneath] == [dependency], path
        assert only_the_request(beneath[0]), path


SESSION_DEPENDENCIES: dict[str, Any] = {
    "current_user": current_user,
    "optional_user": optional_user,
    "active_session": active_session,
}


@pytest.fixture
def signed_in(db: TestDatabase) -> Iterator[TestClient]:
    """An app whose client is signed in; sessions are trusted from memory for a minute, so that
    a slow machine does not see the check wait for the change feed."""
    emulator = AtlassianEmulator()
    app = build_app(
        [emulator_provider(emulator)],
        database_url=database_url(db),
        secret=SECRET,
        http_transport=emulator_transport(emulator),
        session_cache_seconds=60,
    )

    @app.get("/answered-at-once/{dependency}")
    async def answered_at_once(request: Request, dependency: str) -> dict[str, Any]:
        """Drives a session dependency by hand: it must finish at its first step."""
        step = SESSION_DEPENDENCIES[dependency](request)
        try:
            step.send(None)
        except StopIteration as finished:
            found = finished.value
            user = found.user if dependency == "active_session" else found
            return {"at_once": True, "user_id": user.id}
        step.close()
        return {"at_once": False}

    with TestClient(app) as client:
        sign_in(client, emulator)
        yield client


@pytest.mark.parametrize("dependency", sorted(SESSION_DEPENDENCIES))
def test_a_remembered_session_is_answered_without_giving_the_event_loop_back(
    signed_in: TestClient, dependency: str
) -> None:
    me = signed_in.get("/me")  # the first check looks the session up and remembers it
    assert me.status_code == 200

    # The sign-in's own feed entry (the person's profile may have changed) makes each process
    # forget the person's sessions once; on PostgreSQL it is heard at once and may land after
    # the lookup above. A check that waits on a lookup lets it remember the session again.
    answers = []
    for _ in range(ATTEMPTS):
        answers.append(signed_in.get(f"/answered-at-once/{dependency}").json())
        if answers[-1]["at_once"]:
            break

    assert answers[-1] == {"at_once": True, "user_id": me.json()["id"]}, answers


def test_a_session_not_remembered_makes_the_check_wait_for_its_lookup(
    signed_in: TestClient,
) -> None:
    """The probe above can tell: a lookup runs in a task of its own, even on SQLite, whose
    reads run on the event loop's thread."""
    kavach: Any = signed_in.app.state.kavach  # type: ignore[attr-defined]
    kavach.sessions.memory.forget_all()

    answer = signed_in.get("/answered-at-once/current_user").json()

    assert answer == {"at_once": False}
