"""``kavach check`` warns beforehand about what Atlassian would refuse without calling back.

A scope Atlassian does not have (or one not enabled for the app) ends the sign-in on
Atlassian's own error page, and a consent URL that grows too long can be refused by a browser
or proxy; neither reaches the app's callback, so the check says so before anyone signs in.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kavach_fastapi.atlassian.scopes import KNOWN_SCOPES, scope_warnings
from kavach_fastapi.cli import main
from kavach_fastapi.cli.check import MAX_AUTHORIZE_URL_LENGTH
from kavach_fastapi.emulator.endpoints import API_ENDPOINTS

KEY = "key-a-0123456789-0123456789-0123456789"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Every setting the check needs, and a database at the newest schema."""
    monkeypatch.chdir(tmp_path)
    for name in ("KAVACH_BASE_URL", "KAVACH_DATABASE_URL", "ATLASSIAN_SCOPES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", "client-id")
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("KAVACH_SECRET", KEY)
    url = f"sqlite:///{tmp_path / 'kavach.db'}"
    assert main(["db", "upgrade", "--database-url", url], out=io.StringIO()) == 0
    return url


def run_check(database_url: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["check", "--database-url", database_url], out=out)
    return status, out.getvalue()


def test_known_scopes_draw_no_warning(configured: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLASSIAN_SCOPES", "read:jira-work read:jira-user read:space:confluence")
    status, text = run_check(configured)
    assert status == 0
    assert "Warnings" not in text


def test_a_misspelt_scope_is_warned_about_without_failing_the_check(
    configured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATLASSIAN_SCOPES", "read:jira-wrok Read_Jira")
    status, text = run_check(configured)
    assert status == 0  # a warning: the list may be older than a new Atlassian scope
    assert "'read:jira-wrok' is not an Atlassian scope kavach knows" in text
    assert "'Read_Jira' is not shaped like any Atlassian scope" in text
    assert "error page" in text


def test_a_consent_url_that_gets_too_long_is_warned_about(
    configured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    granular = sorted(scope for scope in KNOWN_SCOPES if scope.endswith(":jira"))[:90]
    monkeypatch.setenv("ATLASSIAN_SCOPES", " ".join(granular))
    status, text = run_check(configured)
    assert status == 0
    assert "The consent URL would be" in text
    assert f"over {MAX_AUTHORIZE_URL_LENGTH}" in text
    assert "Atlassian recommends fewer than 50" in text


def test_every_scope_the_emulator_checks_is_a_known_atlassian_scope() -> None:
    used = {scope for api in API_ENDPOINTS for rule in api.scope_sets for scope in rule.scopes}
    assert used <= KNOWN_SCOPES


def test_scope_warnings_name_each_unknown_scope_once() -> None:
    warnings = scope_warnings(["read:me", "write:jira-wrok", "write:jira-wrok"])
    assert len(warnings) == 1
