"""``redirect_to``: kept with the attempt, and only ever this site or a trusted origin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator

from ..databases import TestDatabase
from ..support.redirects import hostile_redirects
from .conftest import emulated_app, finish_sign_in, sign_in, sign_in_at_emulator, start_sign_in


def test_hostile_redirect_to_lands_on_the_site_root(db: TestDatabase) -> None:
    landed = {}
    app = emulated_app(db, AtlassianEmulator(), rate_limit=0)
    with TestClient(app, follow_redirects=False) as client:
        for name, target in hostile_redirects().items():
            landed[name] = sign_in_at_emulator(client, target).headers["location"]

    assert {name: location for name, location in landed.items() if location != "/"} == {}


def test_missing_redirect_to_lands_on_the_site_root(client: TestClient) -> None:
    assert sign_in(client).headers["location"] == "/"


def test_relative_path_with_query_and_fragment_is_kept(db: TestDatabase) -> None:
    with TestClient(emulated_app(db, AtlassianEmulator()), follow_redirects=False) as client:
        response = sign_in_at_emulator(client, "/projects/42?tab=issues#top")

    assert response.headers["location"] == "/projects/42?tab=issues#top"


def test_trusted_origin_is_allowed(db: TestDatabase) -> None:
    app = emulated_app(db, AtlassianEmulator(), trusted_origins=["https://app.example.com"])
    with TestClient(app, follow_redirects=False) as client:
        allowed = sign_in_at_emulator(client, "https://app.example.com/home")
        refused = sign_in_at_emulator(client, "https://app.example.com.evil.example/home")

    assert allowed.headers["location"] == "https://app.example.com/home"
    assert refused.headers["location"] == "/"


def test_error_lands_on_the_kept_redirect_to(client: TestClient) -> None:
    state = start_sign_in(client, "/settings")

    response = finish_sign_in(client, state, error="access_denied")

    assert response.headers["location"] == "/settings?error=access_denied"
