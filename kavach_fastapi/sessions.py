"""Sessions: issue, read, refresh activity and revoke.

A session token is 256 random bits handed to the browser (cookie) or API client (bearer). The
database keeps only its SHA-256, so a stolen copy of the table cannot be replayed. A session ends
at its absolute expiry, after an idle period, or when it is revoked; each sign-in makes a new one,
so a session id planted before sign-in is never adopted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .crypto import hash_token, new_token
from .models import SessionRow, User, utcnow
from .store import Store

MAX_TOKEN_LENGTH = 128
"""Anything longer is not one of our tokens; refused before hashing."""


@dataclass(frozen=True)
class ActiveSession:
    """A session found valid for the current request."""

    user: User
    token_hash: str
    expires_at: datetime


class SessionManager:
    """Issues and checks sessions.

    Args:
        store: the database.
        lifetime: absolute lifetime of a session.
        idle_timeout: a session unused for this long ends.
    """

    def __init__(self, store: Store, *, lifetime: timedelta, idle_timeout: timedelta) -> None:
        self._store = store
        self.lifetime = lifetime
        self.idle_timeout = idle_timeout
        # Recording activity costs a write; doing it at most this often keeps the idle timeout
        # accurate to a few percent without writing on every request.
        self._touch_interval = min(idle_timeout / 20, timedelta(minutes=5))

    def new_session(self, user_id: str, *, now: datetime | None = None) -> tuple[str, SessionRow]:
        """A fresh token and the row to store for it (the caller adds it to its transaction)."""
        now = now or utcnow()
        token = new_token(32)
        row = SessionRow(
            token_hash=hash_token(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + self.lifetime,
            last_active_at=now,
        )
        return token, row

    async def authenticate(self, token: str | None) -> ActiveSession | None:
        """The session a token stands for, if it is valid now; ``None`` otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        token_hash = hash_token(token)
        found = await self._store.find_session(token_hash)
        if found is None:
            return None
        session, user = found
        now = utcnow()
        if session.expires_at <= now or session.last_active_at + self.idle_timeout <= now:
            return None
        if now - session.last_active_at >= self._touch_interval:
            await self._store.touch_session(token_hash, now)
        return ActiveSession(
            user=User.from_row(user), token_hash=token_hash, expires_at=session.expires_at
        )

    async def revoke(self, token_hash: str) -> bool:
        """End a session on the server; ``True`` if it existed."""
        return await self._store.delete_session(token_hash)
