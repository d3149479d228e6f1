"""The two peers ``current_user`` serves beside ``CurrentUser``: their tables, tokens and cookies.

* A Starlette signed cookie (``SessionMiddleware``): the user travels in the cookie, signed with
  ``itsdangerous``; nothing is looked up, and nothing can be revoked before the cookie expires.
* fastapi-users with its database strategy: an access-token row per session, read with the
  user on every request, as its SQLAlchemy adapter does.

The app side is in ``bench/apps/kavach_bench_app.py``; this module makes the tables, stores the
sessions and signs the cookies, outside the server.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from base64 import b64encode
from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy.engine import make_url

FU_USERS = "bench_fu_users"
FU_TOKENS = "bench_fu_tokens"
SIGNED_COOKIE = "session"
"""The cookie Starlette's ``SessionMiddleware`` reads."""
SIGNED_CARRIER = ("Cookie", f"{SIGNED_COOKIE}=")
"""How a request carries a signed cookie: header, and what precedes the value."""
SIGNED_LABEL = "Starlette signed cookie"

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {FU_USERS} (id INTEGER PRIMARY KEY, email VARCHAR(320) NOT NULL,"
    " hashed_password VARCHAR(1024) NOT NULL, is_active BOOLEAN NOT NULL,"
    " is_superuser BOOLEAN NOT NULL, is_verified BOOLEAN NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {FU_TOKENS} (token VARCHAR(43) PRIMARY KEY,"
    f" user_id INTEGER NOT NULL REFERENCES {FU_USERS}(id) ON DELETE CASCADE,"
    " created_at TIMESTAMP NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS ix_{FU_TOKENS}_created_at ON {FU_TOKENS} (created_at)",
)


def available() -> str | None:
    """Why the peers cannot be served here, or ``None`` when they can."""
    try:
        import fastapi_users  # noqa: F401, PLC0415
        import itsdangerous  # noqa: F401, PLC0415
    except ImportError:
        return "fastapi-users or itsdangerous is not installed (pip install -e '.[bench]')"
    return None


def signed_cookies(secret: str, count: int) -> list[str]:
    """``count`` session cookies as Starlette's ``SessionMiddleware`` writes them, one user each."""
    import itsdangerous  # noqa: PLC0415 - a bench extra

    signer = itsdangerous.TimestampSigner(secret)
    cookies = []
    for n in range(count):
        user = {"id": secrets.token_hex(16), "name": f"Person {n}", "email": f"p{n}@example.com"}
        data = b64encode(json.dumps({"user": user}).encode())
        cookies.append(signer.sign(data).decode())
    return cookies


async def seed_fastapi_users(database_url: str, sessions: int, *, users: int) -> list[str]:
    """Make fastapi-users' tables in the database and store ``sessions`` access tokens."""
    tokens = [secrets.token_urlsafe() for _ in range(sessions)]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    user_rows = [(n + 1, f"fu{n}@example.com", "x", True, False, True) for n in range(users)]
    token_rows = [(token, n % users + 1, now) for n, token in enumerate(tokens)]
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        await asyncio.to_thread(_seed_sqlite, url.database, user_rows, token_rows)
    else:
        await _seed_postgres(database_url, user_rows, token_rows)
    return tokens


def _seed_sqlite(
    path: str,
    user_rows: Sequence[tuple[object, ...]],
    token_rows: Sequence[tuple[str, int, datetime]],
) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in _DDL:
            connection.execute(statement)
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO {FU_USERS} VALUES (?, ?, ?, ?, ?, ?)", user_rows)  # noqa: S608
        connection.executemany(
            f"INSERT INTO {FU_TOKENS} VALUES (?, ?, ?)",  # noqa: S608 - our own names
            [(t, u, at.strftime("%Y-%m-%d %H:%M:%S.%f")) for t, u, at in token_rows],
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


async def _seed_postgres(
    database_url: str,
    user_rows: Sequence[tuple[object, ...]],
    token_rows: Sequence[tuple[str, int, datetime]],
) -> None:
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - optional extra

    connection = await asyncpg.connect(database_url)
    try:
        for statement in _DDL:
            await connection.execute(statement)
        await connection.copy_records_to_table(FU_USERS, records=user_rows)
        await connection.copy_records_to_table(FU_TOKENS, records=token_rows)
        await connection.execute(f"ANALYZE {FU_TOKENS}")
    finally:
        await connection.close()
