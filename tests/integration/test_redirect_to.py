"""``redirect_to``: kept with the attempt, and only ever this site or a trusted origin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kavach_fastapi.emulator import AtlassianEmulator

from ..databases import TestDatabase
from ..support.redirects import hostile_redirects
from .conftest import decline, emulated_app, sign_in, start_sign_in


def test_hostile_redirect_to_lands_on_the_site_root(db: TestDatabase) -> None:
    landed = {}
    app = emulated_app(db, AtlassianEmulator(), rate_limit=0)
    with TestClient(app, follow_redirects=False) as client:
        for name, target in hostile_redirects().items():
            landed[name] = sign_in(client, target).headers["location"]

    assert {name: location for name, location in landed.items() if location != "/"} == {}


def test_missing_redirect_to_lands_on_the_site_root(client: TestClient) -> None:
    assert sign_in(client).headers["location"] == "/"


def test_relative_path_with_query_and_fragment_is_kept(client: TestClient) -> None:
    response = sign_in(client, "/projects/42?tab=issues#top")

    assert response.headers["location"] == "/projects/42?tab=issues#top"


def test_trusted_origin_is_allowed(db: TestDatabase) -> None:
    app = emulated_app(db, AtlassianEmulator(), trusted_origins=["https://app.example.com"])
    with TestClient(app, follow_redirects=False) as client:
        allowed = sign_in(client, "https://app.example.com/home")
        refused = sign_in(client, "https://app.example.com.evil.example/home")

    assert allowed.headers["location"] == "https://app.example.com/home"
    assert refused.headers["location"] == "/"


def test_error_lands_on_the_kept_redirect_to(client: TestClient) -> None:
    response = decline(client, start_sign_in(client, "/settings"))

    assert response.headers["location"] == "/settings?error=access_denied"
