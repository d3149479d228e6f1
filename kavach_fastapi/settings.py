"""Settings read from the environment (and ``.env``), validated once at start-up.

Two classes, one per prefix: [`AtlassianSettings`][kavach_fastapi.AtlassianSettings] (``ATLASSIAN_*``) describes the OAuth app,
[`KavachSettings`][kavach_fastapi.KavachSettings] (``KAVACH_*``) describes how this app keeps users and sessions. Keyword
arguments given to [`kavach_router`][kavach_fastapi.kavach_router] or
[`atlassian_provider`][kavach_fastapi.atlassian_provider] win over the environment.

A bad value never surfaces as a pydantic traceback: `load_settings` raises one
[`ConfigurationError`][kavach_fastapi.ConfigurationError] whose message names each variable and its fix.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .database_urls import database_url_problem
from .errors import ConfigurationError
from .redirects import FALLBACK, safe_redirect

DEFAULT_ATLASSIAN_SCOPES: tuple[str, ...] = ("read:me", "offline_access")
"""Scopes every Atlassian sign-in requests: the profile and refresh tokens."""

DEFAULT_DATABASE_URL = "sqlite:///kavach.db"

DEFAULT_SQLITE_BUSY_TIMEOUT = 10.0
"""Seconds a SQLite write waits for another writer's lock, unless configured."""

DEFAULT_DATABASE_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for PostgreSQL to accept a connection, unless configured."""

GENERATE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
"""The command that makes a good ``KAVACH_SECRET`` key."""

TEN_YEARS = timedelta(days=3650)
"""The longest a session, an idle session or a cached list of sites may be kept: a bound far past
any sensible value, so that expiry times stay within what a date can hold."""

MAX_TOKEN_REFRESH_LEEWAY = timedelta(hours=1)
"""Atlassian's access tokens live an hour, so a longer leeway would change nothing."""

MAX_WAIT_SECONDS = 600.0
"""The longest any single wait (an HTTP call, a connection, a SQLite lock) may be configured to take."""

MAX_STALENESS_SECONDS = 3600.0
"""The longest a process may trust what it last read of sessions or quota blocks."""

MIN_KEY_LENGTH = 32
_MIN_DISTINCT = 10
_MIN_DISTINCT_HEX = 6  # a hexadecimal key draws from 16 characters only
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_CLOUD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def _split(value: object, separator: str | None) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(separator) if part.strip())
    return value


def shown_url(value: str) -> str:
    """A URL as a message may repeat it: quoted, with any password replaced by ``***``.

    Whatever sits between ``scheme://`` (or the start, when there is none) and the last ``@``
    before the path is the user information; everything in it after the first ``:`` is hidden,
    so even a URL that does not parse never shows its password.
    """
    start = value.find("://")
    start = 0 if start < 0 else start + 3
    end = min((i for i in (value.find(c, start) for c in "/?#") if i >= 0), default=len(value))
    userinfo, at, _ = value[start:end].rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        value = f"{value[:start]}{user}:***{value[start + len(userinfo) :]}"
    return repr(value)


def _http_url(value: str, *, allow_path: bool) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {shown_url(value)}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"must not carry a query, fragment or user name, got {shown_url(value)}")
    if not allow_path and parts.path not in ("", "/"):
        raise ValueError(f"must be an origin such as https://example.com, got {shown_url(value)}")
    path = parts.path.rstrip("/") if allow_path else ""
    return f"{parts.scheme}://{parts.netloc.lower()}{path}"


def _site(value: str) -> str:
    """A site of ``KAVACH_ALLOWED_SITES``: a cloud id as given, or a URL as its origin."""
    if "://" in value:
        return _http_url(value, allow_path=False)
    if not _CLOUD_ID.fullmatch(value):
        raise ValueError(
            f"each site must be a cloud id (letters, digits and dashes) or a site URL such as "
            f"https://acme.atlassian.net, got {shown_url(value)}"
        )
    return value


class _FromEnvironment(BaseSettings):
    # Field docstrings are the fields' descriptions: the configuration reference is built from them.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        use_attribute_docstrings=True,
        frozen=True,
    )


class AtlassianSettings(_FromEnvironment):
    """The Atlassian OAuth 2.0 (3LO) app, from ``ATLASSIAN_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="ATLASSIAN_")

    client_id: str | None = None
    """The app's client id, from the developer console (https://developer.atlassian.com/console/myapps/)."""

    client_secret: SecretStr | None = None
    """The app's secret, from the same page of the developer console."""

    scopes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ATLASSIAN_SCOPES
    """Space-separated scopes to request; `read:me offline_access` are always included."""

    auth_url: str = "https://auth.atlassian.com"
    """Base URL of `/authorize` and `/oauth/token`; point it at the emulator in tests."""

    api_url: str = "https://api.atlassian.com"
    """Base URL of `/me`, `/oauth/token/accessible-resources` and the product APIs (`/ex/...`)."""

    use_pkce: bool = True
    """Send a PKCE S256 challenge with each sign-in (the client secret is always sent too)."""

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: object) -> object:
        return _split(value, None)

    @field_validator("auth_url", "api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value, allow_path=True)


class KavachSettings(_FromEnvironment):
    """How the app keeps users, sessions and tokens, from ``KAVACH_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="KAVACH_")

    database_url: str = DEFAULT_DATABASE_URL
    """Any SQLAlchemy URL: the default SQLite file suits one process; use `postgresql://...` for several instances."""

    secret: SecretStr | None = None
    """Key for encrypting tokens at rest: at least 32 characters that are not easy to guess, e.g. from `python -c "import secrets; print(secrets.token_urlsafe(32))"`. A key with fewer than 10 different characters (6 for hexadecimal digits), made of one block repeated, or whose neighbouring characters mostly repeat or step by one (`aaaa`, `abcd`) is refused. Several comma-separated keys rotate: the first encrypts, all decrypt. Generated beside a local SQLite file when unset; required for any other database."""

    base_url: str | None = None
    """Public URL of the router's mount point, e.g. `https://your-app.com/api/kavach`; fixes the redirect URI behind proxies."""

    trusted_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Comma-separated extra origins (`https://app.example.com`) that `redirect_to` may point at. Only that: they never let a page sign people out or disconnect them (that is `KAVACH_CSRF_TRUSTED_ORIGINS`)."""

    csrf_trusted_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Comma-separated origins (`https://www.example.com`) whose pages may sign people out and disconnect their accounts, besides this site's own. Leave it empty unless a front end of yours on another origin must do that (usually a sibling subdomain, which browsers send `SameSite=Lax` cookies from): every page on a listed origin can then end sessions. `KAVACH_TRUSTED_ORIGINS` never relaxes this check."""

    allowed_sites: Annotated[tuple[str, ...], NoDecode] = ()
    """Comma-separated Atlassian sites, as cloud ids or site URLs (`https://acme.atlassian.net`): when set, only people whose grant reaches one of them may sign in; anyone else is refused with `site_not_allowed` and nothing is stored. Checked at each sign-in, from Atlassian's `accessible-resources`."""
    landing_url: str = FALLBACK
    """Where people land after signing in or out when no `redirect_to` is given (or it is refused), e.g. `/dashboard`: a path on this site, or a URL on an origin of `KAVACH_TRUSTED_ORIGINS` (or of `KAVACH_BASE_URL`). A failed sign-in lands there too, with `?error=CODE`."""

    rate_limit: int = Field(default=30, ge=0)
    """Sign-in starts and callbacks allowed per minute per client address (an IPv6 address counts for its /64); `0` turns the limit off. A callback finishing a sign-in that the same browser started is never refused, and a request that the server reports no address for is not counted."""

    max_pending_sign_ins: int = Field(default=10_000, ge=1)
    """Sign-ins that may be pending at once across all browsers (each waits at most 10 minutes for its callback). When that many are, expired ones are deleted first; if none has expired, a new start answers 503 `sign_in_busy` with `Retry-After`, and nobody's pending sign-in is dropped."""

    session_lifetime: timedelta = Field(default=timedelta(days=7), gt=timedelta(0), le=TEN_YEARS)
    """Absolute lifetime of a session, in seconds or ISO 8601 (`P7D`)."""

    session_idle_timeout: timedelta = Field(
        default=timedelta(days=1), gt=timedelta(0), le=TEN_YEARS
    )
    """A session unused for this long ends, in seconds or ISO 8601 (`PT12H`)."""

    session_cache_seconds: float = Field(default=1.0, ge=0, le=MAX_STALENESS_SECONDS)
    """How late another process may notice that a session ended (a sign-out, a session ended elsewhere, a user erased). Each process remembers the sessions it checked and reads the session change feed this often; when it cannot, it asks the database for each session this often instead. `0` turns remembering off: a lookup per request."""

    http_timeout: float = Field(default=10.0, gt=0, le=MAX_WAIT_SECONDS)
    """Seconds each call to Atlassian may take in all: connecting, sending and reading the whole answer (a deadline, not a pause between bytes)."""

    auto_migrate: bool | None = None
    """Upgrade the database schema at start-up. Unset: only for SQLite; other databases need `kavach db upgrade`."""

    token_refresh_leeway: timedelta = Field(
        default=timedelta(seconds=60), ge=timedelta(0), le=MAX_TOKEN_REFRESH_LEEWAY
    )
    """Refresh an access token this long before it expires, in seconds or ISO 8601."""

    sites_cache_ttl: timedelta = Field(default=timedelta(minutes=5), ge=timedelta(0), le=TEN_YEARS)
    """How long a person's list of Atlassian sites is served from the database before asking Atlassian again."""

    quota_check_interval: float = Field(default=1.0, ge=0, le=MAX_STALENESS_SECONDS)
    """How long a process trusts what it last read of the quota blocks (sites Atlassian refused with a long `429`) before reading them again; bounds how late another worker's block stops this one. `0` reads them before every product-API call."""
    database_connect_timeout: float = Field(
        default=DEFAULT_DATABASE_CONNECT_TIMEOUT, gt=0, le=MAX_WAIT_SECONDS
    )
    """Seconds to wait for PostgreSQL to accept a connection; an unreachable server then fails start-up and `kavach` commands with one message (and requests with 503 `database_unavailable`). No effect on SQLite."""

    sqlite_busy_timeout: float = Field(
        default=DEFAULT_SQLITE_BUSY_TIMEOUT, gt=0, le=MAX_WAIT_SECONDS
    )
    """Seconds a write to a SQLite database waits for another process's write lock; after that the request is answered 503 `database_unavailable`. No effect on PostgreSQL."""

    @field_validator(
        "session_lifetime",
        "session_idle_timeout",
        "token_refresh_leeway",
        "sites_cache_ttl",
        mode="before",
    )
    @classmethod
    def _seconds(cls, value: object) -> object:
        # Environment values are strings; "3600" means seconds, as the docs say.
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        # Checked here, before anything (the key file, the engine) reads the URL.
        problem = database_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("trusted_origins", "csrf_trusted_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return _split(value, ",")

    @field_validator("trusted_origins", "csrf_trusted_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_http_url(origin, allow_path=False) for origin in value)

    @field_validator("allowed_sites", mode="before")
    @classmethod
    def _split_sites(cls, value: object) -> object:
        return _split(value, ",")

    @field_validator("allowed_sites")
    @classmethod
    def _check_sites(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_site(site) for site in value)

    @field_validator("landing_url")
    @classmethod
    def _check_landing_url(cls, value: str, info: ValidationInfo) -> str:
        # The same rule as redirect_to: what a visitor could not be sent to, nobody lands on.
        base_url, trusted = info.data.get("base_url"), info.data.get("trusted_origins", ())
        if safe_redirect(value, own_origin=base_url, trusted=trusted) != value:
            raise ValueError(
                f"{shown_url(value)} is not a place redirect_to may point at: give a path on this site "
                "such as /dashboard, or a URL on an origin of KAVACH_TRUSTED_ORIGINS"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, allow_path=True)

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = [key.strip() for key in value.get_secret_value().split(",")]
        if any(len(key) < MIN_KEY_LENGTH for key in keys):
            raise ValueError(f"every key must be at least {MIN_KEY_LENGTH} characters long")
        for number, key in enumerate(keys, start=1):
            weakness = key_weakness(key)
            if weakness is not None:
                which = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
                raise ValueError(
                    f"{which} is too easy to guess ({weakness}); generate one with `{GENERATE_KEY}`"
                )
        return SecretStr(",".join(keys))

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The configured keys, newest first; empty when none is set."""
        if self.secret is None:
            return ()
        return tuple(self.secret.get_secret_value().split(","))


def key_weakness(key: str) -> str | None:
    """Why a ``KAVACH_SECRET`` key is too easy to guess, or ``None`` when it is not.

    The rule catches keys a person typed, not every weak key: a key is refused when it has

    * fewer than 10 different characters (6 when it is made only of hexadecimal digits, whose
      alphabet has 16), as in ``aaaa...`` or ``CHANGE-ME-CHANGE-ME...``;
    * one block repeated, as in ``changeme`` four times;
    * more than three quarters of its neighbouring characters equal or one apart, as in
      ``abcdefghijklmnopqrstuvwxyz012345`` or ``0123456789`` repeated.

    The thresholds are set so that random keys of 128 bits or more in the usual encodings
    (``secrets.token_urlsafe``, base64, 32 or more hexadecimal digits) fail with a probability
    below one in 10^12. The answer never contains the key.
    """
    distinct = len(set(key))
    least = _MIN_DISTINCT_HEX if set(key) <= _HEX_DIGITS else _MIN_DISTINCT
    if distinct < least:
        plural = "" if distinct == 1 else "s"
        return f"it has {distinct} different character{plural}, at least {least} are needed"
    if any(key[period:] == key[:-period] for period in range(1, len(key) // 2 + 1)):
        return "it is one block repeated"
    steps = sum(1 for a, b in itertools.pairwise(key) if abs(ord(a) - ord(b)) <= 1)
    if 4 * steps > 3 * (len(key) - 1):
        return "its characters mostly repeat or run in sequence"
    return None


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build a settings object from the environment and keyword overrides.

    Overrides whose value is ``None`` are ignored, so callers can pass their optional
    keyword arguments straight through.

    Raises:
        ConfigurationError: naming every variable that is invalid, with how to fix it, or the
            ``.env`` file that cannot be read.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return cls(**given)
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"The settings file {_env_file(cls, undecodable=True)} is not UTF-8 text: save it "
            "as UTF-8 (or remove it and set the variables in the environment)."
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read the settings file {_env_file(cls, undecodable=False)} "
            f"({exc.strerror or type(exc).__name__}): make it readable by this user, or remove "
            "it and set the variables in the environment."
        ) from None
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            info = cls.model_fields.get(field)
            hint = f" ({info.description})" if info is not None and info.description else ""
            source = f"{field}= argument" if field in given else f"{prefix}{field.upper()}"
            problems.append(f"{source}: {error['msg']}{hint}")
        raise ConfigurationError("Invalid settings:\n  " + "\n  ".join(problems)) from None


def _env_file(cls: type[BaseSettings], *, undecodable: bool) -> str:
    """The ``.env`` file that failed to load, by its absolute path (the one that is not UTF-8,
    or the first that cannot be opened); all of them when none can be singled out."""
    configured = cls.model_config.get("env_file") or ()
    paths = (
        [Path(configured)] if isinstance(configured, (str, Path)) else [Path(p) for p in configured]
    )
    for path in paths:
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            if undecodable:
                return str(path.absolute())
        except FileNotFoundError:
            continue
        except OSError:
            if not undecodable:
                return str(path.absolute())
    return ", ".join(str(path.absolute()) for path in paths)
