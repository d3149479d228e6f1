"""The Atlassian provider: endpoints, scopes, consent parameters and the ``/me`` mapping."""

from __future__ import annotations

from typing import Any

import pytest

from kavach_fastapi.errors import ConfigurationError
from kavach_fastapi.models import ProviderProfile
from kavach_fastapi.providers import AtlassianProvider, OAuthProvider, atlassian_provider
from kavach_fastapi.providers.atlassian import parse_atlassian_profile
from kavach_fastapi.providers.base import merge_scopes

from ..support.environment import ATLASSIAN_APP_ENVIRONMENT, set_environment


def test_default_scopes_are_read_me_and_offline_access() -> None:
    provider = atlassian_provider("client-id", "client-secret")
    assert provider.scopes == ("read:me", "offline_access")


def test_extra_scopes_add_to_the_defaults_in_order_without_duplicates() -> None:
    provider = atlassian_provider(
        "client-id", "client-secret", scopes=["read:jira-user", "read:me", "read:jira-user"]
    )
    assert provider.scopes == ("read:me", "offline_access", "read:jira-user")


def test_empty_scopes_keep_the_defaults() -> None:
    assert atlassian_provider("id", "secret", scopes=[]).scopes == ("read:me", "offline_access")


def test_scopes_from_the_environment_add_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLASSIAN_SCOPES", "read:jira-work offline_access")
    provider = atlassian_provider("client-id", "client-secret")
    assert provider.scopes == ("read:me", "offline_access", "read:jira-work")


@pytest.mark.parametrize(
    ("urls", "environment", "auth_root", "api_root"),
    [
        pytest.param(
            {}, {}, "https://auth.atlassian.com", "https://api.atlassian.com", id="atlassian-cloud"
        ),
        pytest.param(
            {"auth_url": "http://127.0.0.1:9000/auth/", "api_url": "http://127.0.0.1:9000/api/"},
            {},
            "http://127.0.0.1:9000/auth",
            "http://127.0.0.1:9000/api",
            id="given-urls-without-trailing-slash",
        ),
        pytest.param(
            {},
            ATLASSIAN_APP_ENVIRONMENT,
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9000/api",
            id="urls-from-the-environment",
        ),
    ],
)
def test_endpoints_and_issuer_are_atlassian_paths_below_the_auth_and_api_urls(
    monkeypatch: pytest.MonkeyPatch,
    urls: dict[str, Any],
    environment: dict[str, str],
    auth_root: str,
    api_root: str,
) -> None:
    set_environment(monkeypatch, environment)
    provider = atlassian_provider("client-id", "client-secret", **urls)
    assert provider.authorize_url == f"{auth_root}/authorize"
    assert provider.token_url == f"{auth_root}/oauth/token"
    assert provider.issuer == auth_root
    assert provider.profile_url == f"{api_root}/me"
    assert provider.accessible_resources_url == f"{api_root}/oauth/token/accessible-resources"
    assert provider.api_url == api_root


def test_consent_url_asks_for_the_api_audience_and_consent_prompt() -> None:
    provider = atlassian_provider("client-id", "client-secret")
    assert dict(provider.authorize_params) == {"audience": "api.atlassian.com", "prompt": "consent"}


def test_pkce_is_on_by_default_and_can_be_turned_off() -> None:
    assert atlassian_provider("client-id", "client-secret").use_pkce is True
    assert atlassian_provider("client-id", "client-secret", use_pkce=False).use_pkce is False


def test_provider_describes_itself_as_atlassian() -> None:
    provider = atlassian_provider("client-id", "client-secret")
    assert isinstance(provider, AtlassianProvider)
    assert isinstance(provider, OAuthProvider)
    assert (provider.id, provider.name) == ("atlassian", "Atlassian")
    assert provider.client_id == "client-id"
    assert provider.client_secret.get_secret_value() == "client-secret"
    assert provider.parse_profile is parse_atlassian_profile


def test_client_secret_is_hidden_from_repr() -> None:
    provider = atlassian_provider("client-id", "very-secret-value")
    assert "very-secret-value" not in repr(provider)


def test_credentials_and_pkce_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_environment(monkeypatch, ATLASSIAN_APP_ENVIRONMENT | {"ATLASSIAN_USE_PKCE": "0"})
    provider = atlassian_provider()
    assert provider.client_id == "client-id"
    assert provider.client_secret.get_secret_value() == "client-secret"
    assert provider.use_pkce is False
    assert provider.token_url == "http://127.0.0.1:9000/oauth/token"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", "env-id")
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", "env-secret")
    provider = atlassian_provider("arg-id", "arg-secret")
    assert provider.client_id == "arg-id"
    assert provider.client_secret.get_secret_value() == "arg-secret"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        pytest.param({}, "ATLASSIAN_CLIENT_ID and ATLASSIAN_CLIENT_SECRET", id="both"),
        pytest.param({"ATLASSIAN_CLIENT_SECRET": "s"}, "ATLASSIAN_CLIENT_ID", id="client-id"),
        pytest.param({"ATLASSIAN_CLIENT_ID": "i"}, "ATLASSIAN_CLIENT_SECRET", id="client-secret"),
    ],
)
def test_missing_credentials_name_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    monkeypatch.delenv("ATLASSIAN_CLIENT_ID", raising=False)
    monkeypatch.delenv("ATLASSIAN_CLIENT_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        atlassian_provider()
    assert caught.value.message.startswith(f"{named} not set.")
    assert "https://developer.atlassian.com/console/myapps/" in caught.value.message


def test_empty_client_id_counts_as_missing() -> None:
    with pytest.raises(ConfigurationError, match="ATLASSIAN_CLIENT_ID"):
        atlassian_provider("", "client-secret")


def test_invalid_auth_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="auth_url"):
        atlassian_provider("client-id", "client-secret", auth_url="ftp://auth.example")


FULL_PROFILE: dict[str, Any] = {
    "account_type": "atlassian",
    "account_id": "712020:abc",
    "email": "ada@example.com",
    "email_verified": True,
    "name": "Ada Lovelace",
    "nickname": "ada",
    "picture": "https://avatar.example/ada.png",
    "account_status": "active",
}


def profile(**changes: Any) -> dict[str, Any]:
    data = dict(FULL_PROFILE)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_full_profile_maps_every_field() -> None:
    assert parse_atlassian_profile(FULL_PROFILE) == ProviderProfile(
        account_id="712020:abc",
        email="ada@example.com",
        email_verified=True,
        name="Ada Lovelace",
        image="https://avatar.example/ada.png",
        active=True,
    )


@pytest.mark.parametrize("account_id", [..., "", None, 42, ["712020:abc"]])
def test_profile_without_a_string_account_id_is_refused(account_id: object) -> None:
    with pytest.raises(ValueError, match="account_id"):
        parse_atlassian_profile(profile(account_id=account_id))


def test_email_is_optional() -> None:
    parsed = parse_atlassian_profile(profile(email=..., email_verified=...))
    assert parsed.email is None
    assert parsed.email_verified is False


@pytest.mark.parametrize("email", ["", None, 7])
def test_unusable_email_counts_as_missing_and_unverified(email: object) -> None:
    parsed = parse_atlassian_profile(profile(email=email))
    assert parsed.email is None
    assert parsed.email_verified is False


@pytest.mark.parametrize("flag", [..., False, "true", 1, "True", None])
def test_email_is_verified_only_when_the_flag_is_exactly_true(flag: object) -> None:
    parsed = parse_atlassian_profile(profile(email_verified=flag))
    assert parsed.email == "ada@example.com"
    assert parsed.email_verified is False


def test_name_falls_back_to_the_nickname() -> None:
    assert parse_atlassian_profile(profile(name=...)).name == "ada"
    assert parse_atlassian_profile(profile(name="")).name == "ada"


def test_name_is_none_without_name_or_nickname() -> None:
    assert parse_atlassian_profile(profile(name=..., nickname=...)).name is None


def test_picture_becomes_the_image() -> None:
    assert parse_atlassian_profile(profile(picture=...)).image is None


@pytest.mark.parametrize(
    ("status", "active"),
    [(..., True), ("active", True), ("inactive", False), ("closed", False)],
)
def test_account_status_decides_whether_the_account_is_active(status: object, active: bool) -> None:
    assert parse_atlassian_profile(profile(account_status=status)).active is active


def test_minimal_profile_is_enough() -> None:
    assert parse_atlassian_profile({"account_id": "x"}) == ProviderProfile(
        account_id="x", email=None, email_verified=False, name=None, image=None, active=True
    )


def test_merge_scopes_keeps_first_occurrence_order() -> None:
    assert merge_scopes(("a", "b"), ["c", "a"], ("b", "d")) == ("a", "b", "c", "d")


def test_merge_scopes_splits_space_separated_entries_and_drops_blanks() -> None:
    assert merge_scopes(["read:me offline_access", "  ", ""], None, ("read:me",)) == (
        "read:me",
        "offline_access",
    )


def test_merge_scopes_of_nothing_is_empty() -> None:
    assert merge_scopes() == ()
    assert merge_scopes(None, ()) == ()
