"""The pytest plugin works in a user's own test suite, with no conftest of ours."""

from __future__ import annotations

import pytest

USER_TESTS = """
from fastapi import FastAPI
import pytest

from kavach_fastapi import CurrentUser, User, kavach_router


@pytest.fixture
def kavach_app(kavach_emulator_provider, atlassian_emulator_transport, tmp_path):
    app = FastAPI()
    app.include_router(
        kavach_router(
            [kavach_emulator_provider],
            database_url=f"sqlite:///{tmp_path}/kavach.db",
            secret="user-test-secret-0123456789-0123456789",
            http_transport=atlassian_emulator_transport,
        ),
        prefix="/auth",
    )

    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> User:
        return user

    return app


def test_signed_in(kavach_signed_in_client):
    assert kavach_signed_in_client.get("/whoami").json()["name"] == "Ada Lovelace"


def test_signed_out(kavach_client):
    assert kavach_client.get("/whoami").status_code == 401


def test_emulator_counts(kavach_signed_in_client, atlassian_emulator):
    assert atlassian_emulator.calls["authorization_code"] == 1
"""


def test_a_users_suite_signs_in_through_the_plugin_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_app=USER_TESTS)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")

    result.assert_outcomes(passed=3)


def test_missing_kavach_app_fixture_explains_itself(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_app="def test_x(kavach_client):\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs a fixture named `kavach_app`*"])
