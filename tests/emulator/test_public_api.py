"""The public surface of kavach_fastapi.emulator; a change here must be deliberate."""

from __future__ import annotations

import pytest

import kavach_fastapi.emulator as emulator_package
from kavach_fastapi.emulator import AtlassianEmulator

PUBLIC_NAMES = """
    DEFAULT_CLIENT_ID DEFAULT_CLIENT_SECRET AtlassianEmulator AuthorizeError CallCounter
    EmulatedClient EmulatedSite EmulatedSpace EmulatedUser EmulatorClock Fault FaultEndpoint
    FaultKind Faults Lifetimes RecordedRequest pkce_challenge
"""


def test_public_names() -> None:
    assert emulator_package.__all__ == PUBLIC_NAMES.split()
    for name in emulator_package.__all__:
        assert getattr(emulator_package, name) is not None


def test_defaults_make_a_believable_demo() -> None:
    emu = AtlassianEmulator()

    ada, grace = emu.users
    assert (ada.name, ada.email, ada.email_verified) == ("Ada Lovelace", "ada@example.com", True)
    assert ada.account_id.startswith("712020:")
    assert (ada.account_type, ada.account_status) == ("atlassian", "active")
    assert grace.email == "grace@example.com"
    jira, wiki = emu.sites
    assert (jira.name, jira.url, jira.products) == (
        "Acme Engineering",
        "https://acme-eng.atlassian.net",
        ("jira", "jira-servicedesk"),
    )
    assert (wiki.name, wiki.products) == ("Acme Wiki", ("confluence",))
    assert [space.key for space in wiki.spaces] == ["ENG", "HR"]
    client = emu.default_client
    assert client.name == "Kavach demo"
    assert client.redirect_uris == [
        "http://127.0.0.1:8000/api/kavach/auth/oauth/callback/atlassian",
        "http://localhost:8000/api/kavach/auth/oauth/callback/atlassian",
        "http://testserver/api/kavach/auth/oauth/callback/atlassian",
    ]
    assert emu.auto_consent is False
    assert emu.clients == {"kavach-demo-client": client}


def test_unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError, match="NotAThing"):
        emulator_package.NotAThing  # noqa: B018
