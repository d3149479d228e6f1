"""Settings come from the environment, keyword overrides win, and bad values name their variable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Le

from kavach_fastapi.settings import AtlassianSettings, KavachSettings, load_settings

from ..support.environment import ATLASSIAN_APP_ENVIRONMENT, set_environment
from ..support.settings import refusal

KEY_A = "Cdp2deN-BrFQdcml3ic4geWhd56ee0KN"
KEY_B = "3YJ98zV7qhR2a5OOLENacBSBF3dKpwr2E4ThGLVk"


def test_kavach_defaults_match_the_contract() -> None:
    settings = load_settings(KavachSettings)
    assert settings.database_url == "sqlite:///kavach.db"
    assert settings.rate_limit == 30
    assert settings.secret is None
    assert settings.secret_keys == ()
    assert settings.base_url is None
    assert settings.trusted_origins == ()
    assert settings.session_lifetime == timedelta(days=7)
    assert settings.session_idle_timeout == timedelta(days=1)
    assert settings.http_timeout == 10.0
    assert settings.token_refresh_leeway == timedelta(seconds=60)
    assert settings.sites_cache_ttl == timedelta(minutes=5)


def test_atlassian_defaults_match_the_contract() -> None:
    settings = load_settings(AtlassianSettings)
    assert settings.client_id is None
    assert settings.client_secret is None
    assert settings.scopes == ("read:me", "offline_access")
    assert settings.auth_url == "https://auth.atlassian.com"
    assert settings.api_url == "https://api.atlassian.com"
    assert settings.use_pkce is True


def test_kavach_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_DATABASE_URL", "postgresql://db.example/kavach")
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "0")
    monkeypatch.setenv("KAVACH_BASE_URL", "https://app.example/api/kavach/")
    monkeypatch.setenv("KAVACH_SECRET", KEY_A)
    settings = load_settings(KavachSettings)
    assert settings.database_url == "postgresql://db.example/kavach"
    assert settings.rate_limit == 0
    assert settings.base_url == "https://app.example/api/kavach"
    assert settings.secret_keys == (KEY_A,)


def test_atlassian_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_environment(monkeypatch, ATLASSIAN_APP_ENVIRONMENT)
    settings = load_settings(AtlassianSettings)
    assert settings.client_secret is not None
    secret = settings.client_secret.get_secret_value()
    assert (settings.client_id, secret, settings.use_pkce) == ("client-id", "client-secret", False)
    # Trailing slashes are dropped so that endpoint paths can be appended.
    assert (settings.auth_url, settings.api_url) == (
        "http://127.0.0.1:9000",
        "http://127.0.0.1:9000/api",
    )


def test_scopes_are_space_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLASSIAN_SCOPES", "  read:jira-work   read:me\tread:jira-user ")
    settings = load_settings(AtlassianSettings)
    assert settings.scopes == ("read:jira-work", "read:me", "read:jira-user")


def test_env_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KAVACH_RATE_LIMIT=5\nATLASSIAN_CLIENT_ID=from-dotenv\n")
    assert load_settings(KavachSettings).rate_limit == 5
    assert load_settings(AtlassianSettings).client_id == "from-dotenv"


def test_environment_wins_over_the_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("KAVACH_RATE_LIMIT=5\n")
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "7")
    assert load_settings(KavachSettings).rate_limit == 7


def test_keyword_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "5")
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", "from-env")
    assert load_settings(KavachSettings, rate_limit=9).rate_limit == 9
    assert load_settings(AtlassianSettings, client_id="from-kw").client_id == "from-kw"


def test_none_overrides_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "5")
    settings = load_settings(KavachSettings, rate_limit=None, database_url=None)
    assert settings.rate_limit == 5
    assert settings.database_url == "sqlite:///kavach.db"


def test_trusted_origins_are_comma_separated_and_normalised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_TRUSTED_ORIGINS", " https://App.Example/ , http://localhost:3000,, ")
    settings = load_settings(KavachSettings)
    assert settings.trusted_origins == ("https://app.example", "http://localhost:3000")


def test_trusted_origins_accept_a_sequence_as_keyword() -> None:
    settings = load_settings(KavachSettings, trusted_origins=("https://A.example",))
    assert settings.trusted_origins == ("https://a.example",)


def test_csrf_trusted_origins_are_separate_from_redirect_targets_and_normalised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_TRUSTED_ORIGINS", "https://reports.example")
    monkeypatch.setenv("KAVACH_CSRF_TRUSTED_ORIGINS", " https://WWW.Example/ ,, ")
    settings = load_settings(KavachSettings)
    assert settings.csrf_trusted_origins == ("https://www.example",)
    assert settings.trusted_origins == ("https://reports.example",)
    assert load_settings(KavachSettings, trusted_origins=()).csrf_trusted_origins == (
        "https://www.example",
    )


def test_no_origin_is_csrf_trusted_by_default() -> None:
    assert load_settings(KavachSettings).csrf_trusted_origins == ()


def test_secret_keys_split_comma_separated_keys_newest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_SECRET", f" {KEY_B} , {KEY_A} ")
    assert load_settings(KavachSettings).secret_keys == (KEY_B, KEY_A)


def test_secret_is_hidden_from_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_SECRET", KEY_A)
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", "client-secret-value")
    assert KEY_A not in repr(load_settings(KavachSettings))
    assert "client-secret-value" not in repr(load_settings(AtlassianSettings))


def test_session_lifetime_accepts_iso_8601(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_SESSION_LIFETIME", "P7D")
    monkeypatch.setenv("KAVACH_SESSION_IDLE_TIMEOUT", "PT12H")
    settings = load_settings(KavachSettings)
    assert settings.session_lifetime == timedelta(days=7)
    assert settings.session_idle_timeout == timedelta(hours=12)


def test_session_lifetime_accepts_seconds_as_keyword() -> None:
    settings = load_settings(KavachSettings, session_lifetime=3600, session_idle_timeout=60.5)
    assert settings.session_lifetime == timedelta(hours=1)
    assert settings.session_idle_timeout == timedelta(seconds=60.5)


def test_session_lifetime_accepts_seconds_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_SESSION_LIFETIME", "3600")
    monkeypatch.setenv("KAVACH_SESSION_IDLE_TIMEOUT", "600")
    monkeypatch.setenv("KAVACH_TOKEN_REFRESH_LEEWAY", "30")
    monkeypatch.setenv("KAVACH_SITES_CACHE_TTL", "120.5")
    settings = load_settings(KavachSettings)
    assert settings.session_lifetime == timedelta(hours=1)
    assert settings.session_idle_timeout == timedelta(minutes=10)
    assert settings.token_refresh_leeway == timedelta(seconds=30)
    assert settings.sites_cache_ttl == timedelta(seconds=120.5)


ABSOLUTE_LIFETIME_HINT = "Absolute lifetime of a session"
RATE_LIMIT_HINT = "turns the limit off"
BASE_URL_HINT = "fixes the redirect URI behind proxies"
ORIGINS_HINT = "that `redirect_to` may point at"
CSRF_ORIGINS_HINT = "may sign people out"
SECRET_HINT = "at least 32 characters"


@pytest.mark.parametrize(
    ("variable", "value", "hint"),
    [
        pytest.param("KAVACH_RATE_LIMIT", "-1", RATE_LIMIT_HINT, id="negative-rate-limit"),
        pytest.param("KAVACH_RATE_LIMIT", "abc", RATE_LIMIT_HINT, id="non-numeric-rate-limit"),
        pytest.param("KAVACH_BASE_URL", "ftp://x", BASE_URL_HINT, id="base-url-ftp"),
        pytest.param("KAVACH_BASE_URL", "/api/kavach", BASE_URL_HINT, id="base-url-relative"),
        pytest.param(
            "KAVACH_BASE_URL", "https://app.example/api?x=1", BASE_URL_HINT, id="base-url-query"
        ),
        pytest.param(
            "KAVACH_BASE_URL", "https://app.example/api#x", BASE_URL_HINT, id="base-url-fragment"
        ),
        pytest.param(
            "KAVACH_BASE_URL", "https://u:p@app.example/api", BASE_URL_HINT, id="base-url-userinfo"
        ),
        pytest.param(
            "KAVACH_TRUSTED_ORIGINS",
            "https://ok.example,https://app.example/path",
            ORIGINS_HINT,
            id="trusted-origin-with-path",
        ),
        pytest.param(
            "KAVACH_TRUSTED_ORIGINS", "app.example", ORIGINS_HINT, id="trusted-origin-bare-host"
        ),
        pytest.param(
            "KAVACH_CSRF_TRUSTED_ORIGINS",
            "https://www.example/path",
            CSRF_ORIGINS_HINT,
            id="csrf-trusted-origin-with-path",
        ),
        pytest.param(
            "KAVACH_CSRF_TRUSTED_ORIGINS", "*", CSRF_ORIGINS_HINT, id="csrf-trusted-origin-wildcard"
        ),
        pytest.param("KAVACH_SECRET", "short", SECRET_HINT, id="short-secret"),
        pytest.param(
            "KAVACH_SECRET", f"{KEY_A},short", SECRET_HINT, id="one-of-several-secrets-short"
        ),
        pytest.param("KAVACH_SECRET", f"{KEY_A},", SECRET_HINT, id="empty-second-secret"),
        pytest.param(
            "KAVACH_SESSION_LIFETIME", "PT0S", ABSOLUTE_LIFETIME_HINT, id="zero-session-lifetime"
        ),
        pytest.param(
            "KAVACH_SESSION_LIFETIME", "soon", ABSOLUTE_LIFETIME_HINT, id="unparseable-lifetime"
        ),
    ],
)
def test_invalid_kavach_value_names_the_variable_and_the_hint(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, hint: str
) -> None:
    monkeypatch.setenv(variable, value)
    refusal(KavachSettings, f"{variable}:", hint)


def test_invalid_secret_is_not_echoed_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAVACH_SECRET", f"{KEY_A},tooshort-but-secret")
    message = refusal(KavachSettings).message
    assert "tooshort-but-secret" not in message
    assert KEY_A not in message


def test_invalid_atlassian_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLASSIAN_AUTH_URL", "auth.atlassian.com")
    refusal(AtlassianSettings, "ATLASSIAN_AUTH_URL:", "/authorize")


def test_invalid_keyword_names_the_argument_not_the_variable() -> None:
    refusal(KavachSettings, "rate_limit= argument", RATE_LIMIT_HINT, rate_limit=-1)


def test_every_invalid_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    set_environment(monkeypatch, {"KAVACH_RATE_LIMIT": "-1", "KAVACH_BASE_URL": "ftp://x"})
    refusal(KavachSettings, "KAVACH_RATE_LIMIT:", "KAVACH_BASE_URL:")


def test_configuration_error_carries_no_pydantic_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "abc")
    error = refusal(KavachSettings)
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert "errors.pydantic.dev" not in error.message


def test_settings_are_frozen() -> None:
    settings = load_settings(KavachSettings)
    with pytest.raises(ValueError, match="frozen"):
        settings.rate_limit = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "database_url",
    ["not a url", "postgresql://u:pw@h:notaport/db", "mysql://u:pw@h/db"],
    ids=["not-a-url", "port-not-a-number", "unsupported-database"],
)
def test_a_database_url_that_cannot_be_parsed_is_one_message_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    # Without KAVACH_SECRET the key file is looked for next, which reads the URL: the settings
    # must have refused it before that.
    monkeypatch.setenv("KAVACH_DATABASE_URL", database_url)
    error = refusal(KavachSettings, "KAVACH_DATABASE_URL:", "sqlite:///")
    assert ":pw@" not in error.message


def test_a_database_url_keyword_that_cannot_be_parsed_names_the_argument() -> None:
    refusal(KavachSettings, "database_url= argument", database_url="postgresql://h:port/db")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAVACH_SESSION_LIFETIME", "9999999999999"),
        ("KAVACH_SESSION_IDLE_TIMEOUT", "9999999999999"),
        ("KAVACH_SESSION_IDLE_TIMEOUT", "P3651D"),
        ("KAVACH_SITES_CACHE_TTL", "9999999999999"),
        ("KAVACH_TOKEN_REFRESH_LEEWAY", "3601"),
        ("KAVACH_SESSION_CACHE_SECONDS", "3601"),
        ("KAVACH_QUOTA_CHECK_INTERVAL", "1e300"),
        ("KAVACH_HTTP_TIMEOUT", "inf"),
        ("KAVACH_DATABASE_CONNECT_TIMEOUT", "601"),
        ("KAVACH_SQLITE_BUSY_TIMEOUT", "9999999999999"),
    ],
)
def test_a_duration_past_its_upper_bound_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    refusal(KavachSettings, f"{variable}:")


def test_every_duration_setting_has_an_upper_bound_that_expiry_arithmetic_survives() -> None:
    # A bound is what keeps `now + value` from overflowing a datetime on every request.
    for name, field in KavachSettings.model_fields.items():
        if field.annotation not in (timedelta, float):
            continue
        bounds = [item.le for item in field.metadata if isinstance(item, Le)]
        assert bounds, f"{name} has no upper bound"
        bound = bounds[0]
        assert isinstance(bound, (timedelta, float)), name
        longest = bound if isinstance(bound, timedelta) else timedelta(seconds=bound)
        assert longest <= timedelta(days=3650), name
        assert datetime.now(timezone.utc) + longest < datetime(9000, 1, 1, tzinfo=timezone.utc)


def test_the_longest_durations_allowed_are_accepted() -> None:
    settings = load_settings(
        KavachSettings,
        session_lifetime=timedelta(days=3650),
        session_idle_timeout=timedelta(days=3650),
        token_refresh_leeway=timedelta(hours=1),
        http_timeout=600,
    )
    assert settings.session_lifetime == timedelta(days=3650)


@pytest.mark.parametrize(
    ("settings_class", "variable"),
    [
        (KavachSettings, "KAVACH_BASE_URL"),
        (KavachSettings, "KAVACH_TRUSTED_ORIGINS"),
        (KavachSettings, "KAVACH_CSRF_TRUSTED_ORIGINS"),
        (KavachSettings, "KAVACH_ALLOWED_SITES"),
        (KavachSettings, "KAVACH_LANDING_URL"),
        (KavachSettings, "KAVACH_DATABASE_URL"),
        (AtlassianSettings, "ATLASSIAN_AUTH_URL"),
        (AtlassianSettings, "ATLASSIAN_API_URL"),
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        "https://user:s3cr3tpw@example.com/api",
        "https://user@corp:s3cr3tpw@example.com/api",
        "user:s3cr3tpw@example.com/api",
        "ftp://user:s3cr3tpw@[::1/api",
    ],
    ids=["with-user", "with-at-in-user", "without-scheme", "unparseable"],
)
def test_a_password_in_a_url_is_never_echoed_in_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, settings_class: type[Any], variable: str, url: str
) -> None:
    monkeypatch.setenv(variable, url)
    message = refusal(settings_class, f"{variable}:").message
    assert "s3cr3tpw" not in message


def test_a_url_echoed_in_a_settings_error_shows_its_user_but_not_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_BASE_URL", "https://user:s3cr3tpw@example.com/api")
    refusal(KavachSettings, "got 'https://user:***@example.com/api'")


def test_an_env_file_that_is_not_utf8_is_one_message_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"KAVACH_RATE_LIMIT=5\nKAVACH_SECRET=\xff\xfe-secret\n")
    for settings_class in (KavachSettings, AtlassianSettings):
        error = refusal(settings_class, str(tmp_path / ".env"), "UTF-8")
        assert error.__cause__ is None
        assert error.__suppress_context__
        assert "secret" not in error.message.lower()
