"""Setting the router up: validation at start-up, the lifespan, and apps side by side.

Most of this is about settings and SQLite's conveniences (the key file beside the database, the
schema made at start-up); restarting an app and the refusal of a shared database whose schema is
behind run on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import ConfigurationError, CurrentUser, User, atlassian_provider, kavach_router
from kavach_fastapi.cli import main
from kavach_fastapi.emulator import AtlassianEmulator

from ..databases import TestDatabase
from .conftest import AUTHORIZE, consent_params, emulated_app
from .conftest import sign_in_at_emulator as sign_in

SITE = "http://testserver"


def test_two_apps_in_one_process_do_not_see_each_other(tmp_path: Path) -> None:
    first_app = emulated_app(tmp_path / "first.db", AtlassianEmulator())
    second_app = emulated_app(tmp_path / "second.db", AtlassianEmulator())

    with (
        TestClient(first_app, follow_redirects=False) as first,
        TestClient(second_app, follow_redirects=False) as second,
    ):
        sign_in(first)
        token = first.cookies["kavach_session"]

        assert first.get("/me").status_code == 200
        assert second.get("/me").status_code == 401
        assert second.get("/me", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert (tmp_path / "first.db").exists()
    assert (tmp_path / "second.db").exists()


def test_current_user_without_the_router_is_a_clear_configuration_error() -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(user: CurrentUser) -> User:
        return user

    with TestClient(app) as client:
        answer = client.get("/me")

    # Nothing of the package is installed on an app without the router: FastAPI answers it.
    assert answer.status_code == 500
    assert "app.include_router(kavach_router(...))" in answer.json()["detail"]


def test_invalid_settings_fail_at_start_up_naming_the_variable(tmp_path: Path) -> None:
    provider = atlassian_provider("id", "secret")

    with pytest.raises(ConfigurationError, match="rate_limit"):
        kavach_router([provider], database_url=f"sqlite:///{tmp_path}/k.db", rate_limit=-1)


def test_invalid_environment_fails_at_start_up_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAVACH_BASE_URL", "ftp://example.com")

    with pytest.raises(ConfigurationError, match="KAVACH_BASE_URL"):
        kavach_router(
            [atlassian_provider("id", "secret")], database_url=f"sqlite:///{tmp_path}/k.db"
        )


def test_a_shared_database_without_kavach_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KAVACH_SECRET", raising=False)

    with pytest.raises(ConfigurationError, match="KAVACH_SECRET is required"):
        kavach_router(
            [atlassian_provider("id", "secret")], database_url="postgresql://db.example/app"
        )


def test_local_sqlite_without_secret_generates_an_owner_only_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAVACH_SECRET", raising=False)
    database = tmp_path / "kavach.db"

    app = emulated_app(database, AtlassianEmulator(), secret=None)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        assert client.get("/me").status_code == 200

    key_file = tmp_path / "kavach.db.secret"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) >= 32


def test_missing_atlassian_credentials_fail_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ATLASSIAN_CLIENT_ID", raising=False)
    monkeypatch.delenv("ATLASSIAN_CLIENT_SECRET", raising=False)

    with pytest.raises(ConfigurationError, match="ATLASSIAN_CLIENT_ID and ATLASSIAN_CLIENT_SECRET"):
        atlassian_provider()


def test_provider_reads_its_credentials_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", "env-client")
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", "env-secret")
    monkeypatch.setenv("ATLASSIAN_SCOPES", "read:jira-user read:me")

    app = FastAPI()
    app.include_router(
        kavach_router(
            [atlassian_provider()],
            database_url=f"sqlite:///{tmp_path}/k.db",
            secret="gu8ObbkkGhFl3m9CNHmpsSYWIz5lFqpGGUu5eryE98Q",
        ),
        prefix="/auth-here",
    )
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/auth-here/auth/oauth/authorize/atlassian")

    params = consent_params(response)
    assert params["client_id"] == "env-client"
    assert params["scope"] == "read:me offline_access read:jira-user"
    assert params["redirect_uri"] == "http://testserver/auth-here/auth/oauth/callback/atlassian"


def test_router_endpoints_work_without_a_prefix(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(
        kavach_router(
            [atlassian_provider("id", "secret", auth_url="https://auth.test")],
            database_url=f"sqlite:///{tmp_path}/k.db",
            secret="gu8ObbkkGhFl3m9CNHmpsSYWIz5lFqpGGUu5eryE98Q",
        )
    )
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/auth/oauth/authorize/atlassian")

    assert consent_params(response)["redirect_uri"] == (
        "http://testserver/auth/oauth/callback/atlassian"
    )


def test_app_can_restart_with_the_same_router(db: TestDatabase, emu: AtlassianEmulator) -> None:
    app = emulated_app(db, emu)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        token = client.cookies["kavach_session"]
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/me", headers={"authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert AUTHORIZE.endswith("/atlassian")


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
def test_a_local_sqlite_database_gets_its_schema_at_start_up(
    empty_db: TestDatabase, emu: AtlassianEmulator
) -> None:
    with TestClient(emulated_app(empty_db, emu), follow_redirects=False) as client:
        sign_in(client)

    assert empty_db.count("kavach_sessions") == 1
    assert main(["db", "current", "--database-url", empty_db.url], out=io.StringIO()) == 0


ON_POSTGRESQL = pytest.mark.parametrize(
    "empty_db", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


async def run_kavach_command(*argv: str) -> int:
    """The ``kavach`` command, from an async test (it runs its own event loop)."""
    return await asyncio.to_thread(main, list(argv), out=io.StringIO())


def backends_of(database: TestDatabase) -> int:
    """Connections to the database other than the test's own."""
    return int(
        database.scalar(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )


@ON_POSTGRESQL
async def test_a_shared_database_behind_the_schema_is_refused_until_kavach_db_upgrade(
    empty_db: TestDatabase, emu: AtlassianEmulator
) -> None:
    app = emulated_app(empty_db, emu)
    with pytest.raises(ConfigurationError, match="run `kavach db upgrade`") as refused:
        async with app.router.lifespan_context(app):
            pass
    assert "has no kavach tables" in str(refused.value)
    assert str(refused.value).endswith(", then start the app again.")
    assert not empty_db.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'kavach%'"
    )

    assert await run_kavach_command("db", "upgrade", "--database-url", empty_db.url) == 0
    # The same app, in the same event loop (asyncpg connections belong to one loop).
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=SITE) as client,
    ):
        started = await client.get(AUTHORIZE)

    assert started.status_code == 302, started.text
    assert empty_db.count("kavach_sign_in_attempts") == 1


@ON_POSTGRESQL
async def test_a_refused_start_up_leaves_no_database_connection_open(
    empty_db: TestDatabase, emu: AtlassianEmulator
) -> None:
    app = emulated_app(empty_db, emu)
    try:
        with pytest.raises(ConfigurationError, match="run `kavach db upgrade`"):
            async with app.router.lifespan_context(app):
                pass

        assert backends_of(empty_db) == 0
    finally:
        # Should the refused start keep a connection, a full start and stop in this same loop
        # (the connection's own) releases it, so that nothing leaks into later tests.
        await run_kavach_command("db", "upgrade", "--database-url", empty_db.url)
        async with app.router.lifespan_context(app):
            pass
