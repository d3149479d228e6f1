"""A database written by an earlier version keeps working, and ``kavach keys rotate`` migrates it.

Earlier versions sealed provider tokens in format ``v1``: AES-256-GCM bound to the account's row
id and column. The format is written out here independently of the package (from the on-disk
layout: ``v1.<key id>.<base64 of nonce and ciphertext>``, keys derived with HKDF-SHA256), so the
test pins what old databases hold rather than what today's code would write.
"""

from __future__ import annotations

import base64
import io
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi.cli import main
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.tables import utcnow
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in
from tests.support.apps import build_app

SECRET = "old-format-secret-0123456789-abcdefghijklmnop"
COLUMNS = ("access_token", "refresh_token")


def derive(purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kavach-fastapi", info=purpose)
    return hkdf.derive(SECRET.encode())


def seal_v1(plaintext: str, row_id: str, column: str) -> str:
    """A token as version 0.1 stored it."""
    nonce = secrets.token_bytes(12)
    context = f"kavach:accounts:{row_id}:{column}".encode()
    sealed = AESGCM(derive(b"aes-256-gcm")).encrypt(nonce, plaintext.encode(), context)
    payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"v1.{derive(b'key-id')[:6].hex()}.{payload}"


def build(database: Path, emulator: AtlassianEmulator) -> FastAPI:
    return build_app(
        [emulator_provider(emulator)],
        database_url=f"sqlite:///{database}",
        secret=SECRET,
        http_transport=emulator_transport(emulator),
        rate_limit=0,
    )


def stored(database: Path) -> dict[str, str]:
    with sqlite3.connect(database) as connection:
        (row,) = connection.execute("SELECT id, access_token, refresh_token FROM kavach_accounts")
    return dict(zip(("id", *COLUMNS), row, strict=True))


def make_old(database: Path, access_token: str, refresh_token: str) -> None:
    """Rewrite the account's tokens as an earlier version wrote them."""
    row_id = stored(database)["id"]
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE kavach_accounts SET access_token = ?, refresh_token = ?",
            (
                seal_v1(access_token, row_id, "access_token"),
                seal_v1(refresh_token, row_id, "refresh_token"),
            ),
        )


@dataclass
class OldDatabase:
    """A signed-in person whose tokens are stored in format ``v1``."""

    path: Path
    emulator: AtlassianEmulator
    cookies: dict[str, str]
    access_token: str

    def app(self) -> TestClient:
        client = TestClient(build(self.path, self.emulator), follow_redirects=False)
        client.cookies.update(self.cookies)
        return client

    def expire_access_token(self) -> None:
        with sqlite3.connect(self.path) as connection:
            connection.execute(
                "UPDATE kavach_accounts SET access_token_expires_at = ?",
                ((utcnow() - timedelta(hours=1)).replace(tzinfo=None),),
            )


def live_refresh_token(emulator: AtlassianEmulator) -> str:
    with emulator.state.lock:
        (token,) = [
            record.token
            for record in emulator.state.refresh_tokens.values()
            if record.retired_at is None and not record.revoked
        ]
    return token


@pytest.fixture
def old(tmp_path: Path) -> OldDatabase:
    database = tmp_path / "kavach.db"
    emulator = AtlassianEmulator()
    with TestClient(build(database, emulator), follow_redirects=False) as client:
        sign_in(client, emulator)
        access_token = client.get("/token").json()["token"]
        cookies = dict(client.cookies.items())
    make_old(database, access_token, live_refresh_token(emulator))
    return OldDatabase(database, emulator, cookies, access_token)


def test_tokens_stored_by_an_earlier_version_still_decrypt_and_refresh(old: OldDatabase) -> None:
    assert stored(old.path)["access_token"].startswith("v1.")
    with old.app() as client:
        assert client.get("/token").json()["token"] == old.access_token
        old.expire_access_token()
        refreshed = client.get("/token").json()["token"]
    assert refreshed != old.access_token
    # The refresh read the old refresh token, and wrote the new pair in the current format.
    assert all(stored(old.path)[column].startswith("v2.") for column in COLUMNS)


def test_keys_rotate_rewrites_old_tokens_in_the_current_format_and_they_keep_working(
    old: OldDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAVACH_SECRET", SECRET)
    url = f"sqlite:///{old.path}"
    out = io.StringIO()

    assert main(["keys", "rotate", "--database-url", url], out=out) == 0

    assert "Re-encrypted the tokens of 1 accounts" in out.getvalue()
    assert all(stored(old.path)[column].startswith("v2.") for column in COLUMNS)
    with old.app() as client:
        assert client.get("/token").json()["token"] == old.access_token
        old.expire_access_token()
        assert client.get("/token").json()["token"] != old.access_token
    assert main(["keys", "rotate", "--database-url", url], out=out) == 0
    assert "Re-encrypted the tokens of 0 accounts" in out.getvalue()
