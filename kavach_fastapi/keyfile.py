"""Where the secret comes from: ``KAVACH_SECRET``, or a key file beside a local SQLite database.

A local SQLite database is a single machine's affair, so the package may look after its key: on
first start it writes a strong random key to ``<database file>.secret`` with owner-only
permissions and warns once. Any other database is shared by several processes or machines, and
they must all hold the same key, so ``KAVACH_SECRET`` is required there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .crypto import new_token
from .database_urls import is_sqlite, sqlite_file
from .errors import ConfigurationError
from .settings import KavachSettings

logger = logging.getLogger("kavach_fastapi")


def resolve_secret_keys(settings: KavachSettings) -> tuple[str, ...]:
    """Return the keys to use, newest first.

    Raises:
        ConfigurationError: ``KAVACH_SECRET`` is unset for a database other than local SQLite, or
            the key file beside the database cannot be read or written.
    """
    if settings.secret_keys:
        return settings.secret_keys
    if not is_sqlite(settings.database_url):
        raise ConfigurationError(
            "KAVACH_SECRET is required when KAVACH_DATABASE_URL is not a local SQLite file: "
            "every instance must share it. Generate one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    path = sqlite_file(settings.database_url)
    if path is None:
        logger.warning(
            "KAVACH_SECRET is not set; using a temporary key for the in-memory database. "
            "Stored tokens will not survive a restart."
        )
        return (new_token(32),)
    return (_read_or_create_key_file(path.with_name(path.name + ".secret")),)


def _damaged(key_path: Path, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"The key file {key_path} is damaged ({why}). Delete it to make a new one (tokens stored "
        "with the old key will need a new sign-in), or set KAVACH_SECRET."
    )


def _read_key_file(key_path: Path) -> str:
    try:
        key = key_path.read_bytes().decode("ascii").strip()
    except UnicodeDecodeError:
        raise _damaged(key_path, "not text") from None
    if len(key) < 32:
        raise _damaged(key_path, "too short")
    return key


def _read_or_create_key_file(key_path: Path) -> str:
    try:
        if key_path.exists():
            return _read_key_file(key_path)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key = new_token(32)
        # Write a private temporary file, then link it into place: the link is atomic and
        # fails if another worker got there first, so no one ever reads a half-written key.
        draft = key_path.with_name(f"{key_path.name}.{new_token(6)}.tmp")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key + "\n")
        try:
            os.link(draft, key_path)
        except FileExistsError:
            return _read_key_file(key_path)
        finally:
            draft.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read or create the key file {key_path} ({exc.strerror or exc}). "
            "Set KAVACH_SECRET instead."
        ) from None
    logger.warning(
        "KAVACH_SECRET is not set: generated a key and stored it in %s (owner-only). "
        "Keep that file with the database, and set KAVACH_SECRET in production.",
        key_path,
    )
    return key
