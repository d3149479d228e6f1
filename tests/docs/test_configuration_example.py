"""The Configuration page's example: keyword arguments win over the environment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kavach_fastapi import AtlassianProvider, KavachRouter

from .conftest import load_example


def test_keyword_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", "client-id")
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("ATLASSIAN_SCOPES", "read:confluence-user")
    monkeypatch.setenv("KAVACH_SESSION_LIFETIME", "P30D")
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "5")

    example = load_example("settings_in_code")
    provider: AtlassianProvider = example.provider
    router: KavachRouter = example.router
    settings = router.kavach.settings

    assert provider.scopes == ("read:me", "offline_access", "read:jira-user", "read:jira-work")
    assert settings.session_lifetime == timedelta(days=1)
    assert settings.trusted_origins == ("https://reports.example.com",)
    assert settings.rate_limit == 5  # not given in code: the environment's
