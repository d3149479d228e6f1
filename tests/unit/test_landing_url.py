"""``KAVACH_LANDING_URL`` / ``landing_url=``: only a place ``redirect_to`` could point at."""

from __future__ import annotations

import pytest

from kavach_fastapi.settings import KavachSettings, load_settings

from ..support.settings import refusal


def test_people_land_on_the_site_root_unless_told_otherwise() -> None:
    assert load_settings(KavachSettings).landing_url == "/"


def test_the_landing_place_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_LANDING_URL", "/dashboard?tab=1")

    assert load_settings(KavachSettings).landing_url == "/dashboard?tab=1"


@pytest.mark.parametrize(
    "allowed",
    [
        {"landing_url": "/me"},
        {
            "landing_url": "https://app.example.com/home",
            "trusted_origins": ["https://app.example.com"],
        },
        {
            "landing_url": "https://app.example.com/",
            "base_url": "https://app.example.com/api/kavach",
        },
    ],
)
def test_a_path_here_or_a_trusted_origin_is_a_landing_place(allowed: dict[str, object]) -> None:
    assert load_settings(KavachSettings, **allowed).landing_url == allowed["landing_url"]


@pytest.mark.parametrize(
    "refused",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "me", "javascript:alert(1)"],
)
def test_a_place_redirect_to_could_not_point_at_is_refused_naming_the_option(refused: str) -> None:
    refusal(KavachSettings, "landing_url= argument", "KAVACH_TRUSTED_ORIGINS", landing_url=refused)


def test_a_refused_landing_place_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_LANDING_URL", "https://evil.example/")
    refusal(KavachSettings, "KAVACH_LANDING_URL")
