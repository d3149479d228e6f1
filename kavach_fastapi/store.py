"""The database: engine set-up, transactions and the queries the package runs.

Async all the way (aiosqlite for SQLite, asyncpg for PostgreSQL), so a request never blocks the
event loop. SQLite runs with WAL, a busy timeout and foreign keys on, and write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue for the lock instead of failing with
"database is locked" half-way through.

Every unit of work (:meth:`Store.transaction`, :meth:`Store.reader`, and the session lookup)
runs inside :meth:`~kavach_fastapi.outages.OutageWatch.watch`, so a database that cannot be
reached surfaces as ``DatabaseUnavailableError`` (503), never as a driver's exception; a method
added here gets that by using those two.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Result,
    bindparam,
    delete,
    event,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel, col

from .errors import ConfigurationError
from .keyfile import sqlite_file
from .models import AccountRow, RateLimitRow, SessionRow, SignInAttemptRow, UserRow
from .outages import OutageWatch, replace_connections_closed_while_idle
from .providers.base import ProviderProfile
from .settings import DEFAULT_SQLITE_BUSY_TIMEOUT

_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
_WRITE = "kavach_write"


def async_database_url(database_url: str) -> str:
    """Give a plain SQLAlchemy URL its async driver (``sqlite://`` -> ``sqlite+aiosqlite://``).

    Raises:
        ConfigurationError: the URL is malformed or names a synchronous driver.
    """
    try:
        url = make_url(database_url)
    except Exception:
        raise ConfigurationError(
            "KAVACH_DATABASE_URL is not a valid database URL, e.g. sqlite:///kavach.db or "
            "postgresql://user@host/dbname."
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend not in _ASYNC_DRIVERS:
        raise ConfigurationError(
            f"KAVACH_DATABASE_URL: the {backend!r} database is not supported; "
            "use sqlite:/// or postgresql://."
        )
    if "+" not in url.drivername:
        url = url.set(drivername=f"{backend}+{_ASYNC_DRIVERS[backend]}")
    elif driver in ("pysqlite", "psycopg2", "pg8000"):
        raise ConfigurationError(
            f"KAVACH_DATABASE_URL: the {driver} driver is synchronous; "
            f"use {backend}+{_ASYNC_DRIVERS[backend]}:// or plain {backend}://."
        )
    return url.render_as_string(hide_password=False)


def _sqlite_connect(dbapi_connection: Any, busy_timeout: float) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writes take the lock up front; single-statement reads run in SQLite's autocommit mode,
    # which is already consistent and saves a round trip to the driver's thread.
    if connection.get_execution_options().get(_WRITE, False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create_owner_only(path: Path) -> None:
    """Create an empty SQLite file readable by its owner only, unless it exists.

    SQLite would create it with 0644 (less the umask), and gives its ``-wal`` and ``-shm``
    files the main file's permissions, so creating it first makes all three private. An
    existing file keeps the mode its owner gave it. Failures are SQLite's to report.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(descriptor)


def create_engine(
    database_url: str, *, busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT
) -> AsyncEngine:
    """An async engine for the URL, with SQLite tuned for concurrent web workers.

    Args:
        database_url: a SQLAlchemy URL; the async driver is added when it is missing.
        busy_timeout: seconds a SQLite write waits for another writer's lock.
    """
    url = async_database_url(database_url)
    if not url.startswith("sqlite"):
        # No pre-ping (it costs three round trips per checkout): connections are recycled,
        # and one the server closed (a restart) is replaced at checkout for free.
        engine = create_async_engine(url, pool_recycle=1800, hide_parameters=True)
        replace_connections_closed_while_idle(engine)
        return engine
    in_memory = sqlite_file(database_url) is None
    path = sqlite_file(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        connect_args={"check_same_thread": False},
        hide_parameters=True,
        # Every write ends in an explicit COMMIT or ROLLBACK, and reads run in autocommit
        # mode, so a returned connection has nothing to roll back.
        pool_reset_on_return=None,
        **({"poolclass": StaticPool} if in_memory else {}),
    )
    if path is not None and not make_url(database_url).query.get("uri"):
        file = path

        def before_connect(*_args: Any) -> None:
            _create_owner_only(file)

        # Before every new connection, not only the first: a file deleted while the app runs
        # would otherwise come back with SQLite's default mode.
        event.listen(engine.sync_engine, "do_connect", before_connect)
    event.listen(
        engine.sync_engine,
        "connect",
        lambda dbapi_connection, _record: _sqlite_connect(dbapi_connection, busy_timeout),
    )
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def new_id() -> str:
    """A new random row id (32 hex characters)."""
    return uuid.uuid4().hex


def normalize_email(email: str | None) -> str | None:
    """The form in which emails are compared: trimmed and case-folded."""
    return email.strip().casefold() if email else None


@dataclass(frozen=True)
class SessionLookup:
    """What a session check needs: the session's times and its user."""

    expires_at: datetime
    last_active_at: datetime
    user: UserRow


_FIND_SESSION = (
    select(
        col(SessionRow.expires_at),
        col(SessionRow.last_active_at),
        col(UserRow.id),
        col(UserRow.email),
        col(UserRow.email_verified),
        col(UserRow.name),
        col(UserRow.image),
        col(UserRow.created_at),
        col(UserRow.updated_at),
    )
    .join(UserRow, col(UserRow.id) == col(SessionRow.user_id))
    .where(col(SessionRow.token_hash) == bindparam("token_hash"))
)


@dataclass(frozen=True)
class SealedTokens:
    """Provider tokens encrypted for one account row, ready to store."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: str


_ATTEMPT_COLUMNS = tuple(
    col(getattr(SignInAttemptRow, name)) for name in SignInAttemptRow.model_fields
)


def _rowcount(result: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE."""
    return int(getattr(result, "rowcount", 0))


class Store:
    """Every read and write of the package's tables.

    Args:
        database_url: a SQLAlchemy URL; the async driver is added when it is missing.
        busy_timeout: seconds a SQLite write waits for another writer's lock before the
            request is answered 503 ``database_unavailable``.
    """

    def __init__(
        self, database_url: str, *, busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT
    ) -> None:
        self.engine = create_engine(database_url, busy_timeout=busy_timeout)
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.outages = OutageWatch()

    @property
    def writer(self) -> AsyncEngine:
        """The engine for write transactions (``BEGIN IMMEDIATE`` on SQLite)."""
        return self._writer

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Raises:
            DatabaseUnavailableError: the database cannot be reached or stays locked.
        """
        async with (
            self.outages.watch(),
            AsyncSession(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work.

        Raises:
            DatabaseUnavailableError: the database cannot be reached.
        """
        async with (
            self.outages.watch(),
            AsyncSession(self.engine, expire_on_commit=False) as session,
        ):
            yield session

    # Sign-in attempts

    async def add_attempt(
        self, attempt: SignInAttemptRow, *, keep_per_browser: int, max_pending: int
    ) -> datetime | None:
        """Store a new sign-in attempt, unless ``max_pending`` live attempts exist already.

        The browser keeps at most ``keep_per_browser`` attempts: its oldest beyond that are
        deleted. When the table is full, expired attempts are deleted first; if it is still full,
        nothing is stored and nobody's live attempt is dropped. On SQLite the bound is exact; on
        PostgreSQL starts that run at the same instant may pass it by their number.

        Returns:
            ``None`` when stored; otherwise when the first pending attempt expires.
        """
        async with self.transaction() as session:
            pending = await self._count(session, SignInAttemptRow)
            if pending >= max_pending:
                expired = await session.execute(
                    delete(SignInAttemptRow).where(
                        col(SignInAttemptRow.expires_at) <= attempt.created_at
                    )
                )
                pending -= _rowcount(expired)
            own = (
                (
                    await session.execute(
                        select(col(SignInAttemptRow.state_hash))
                        .where(col(SignInAttemptRow.browser_hash) == attempt.browser_hash)
                        .order_by(col(SignInAttemptRow.created_at).desc())
                    )
                )
                .scalars()
                .all()
            )
            surplus = own[max(keep_per_browser - 1, 0) :]
            if pending - len(surplus) >= max_pending:
                first_expiry = select(func.min(col(SignInAttemptRow.expires_at)))
                return (await session.execute(first_expiry)).scalar_one()
            if surplus:
                await session.execute(
                    delete(SignInAttemptRow).where(col(SignInAttemptRow.state_hash).in_(surplus))
                )
            session.add(attempt)
            return None

    @staticmethod
    async def _count(session: AsyncSession, table: type[SQLModel]) -> int:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())

    async def count_hit(self, key: str, window: int, *, limit: int) -> int | None:
        """Count one request for ``key`` in time window ``window``, if it is under ``limit``.

        One statement: the upsert increments only while the count is below ``limit``, and its
        ``RETURNING`` says whether it did, so a refused request changes nothing and two workers
        cannot both take the last place.

        Returns:
            The window's new count, or ``None`` when the limit was already reached.
        """
        insert = sqlite_insert if self.engine.dialect.name == "sqlite" else postgresql_insert
        statement = (
            insert(RateLimitRow)
            .values(key=key, window=window, count=1)
            .on_conflict_do_update(
                index_elements=["key", "window"],
                set_={"count": col(RateLimitRow.count) + 1},
                where=col(RateLimitRow.count) < limit,
            )
            .returning(col(RateLimitRow.count))
        )
        async with self.transaction() as session:
            count = (await session.execute(statement)).scalar_one_or_none()
        return None if count is None else int(count)

    async def forget_windows_before(self, window: int, *, limit: int | None = None) -> int:
        """Delete rate-limit counters of windows before ``window`` (at most ``limit``)."""
        doomed = col(RateLimitRow.window) < window
        if limit is not None:
            oldest = (
                select(col(RateLimitRow.key), col(RateLimitRow.window)).where(doomed).limit(limit)
            )
            doomed = tuple_(col(RateLimitRow.key), col(RateLimitRow.window)).in_(oldest)
        async with self.transaction() as session:
            return _rowcount(await session.execute(delete(RateLimitRow).where(doomed)))

    async def has_pending_attempt(
        self, state_hash: str, browser_hash: str, *, provider: str, now: datetime
    ) -> bool:
        """Whether a live attempt of ``provider`` has this state and was started by this browser.

        A read only (one primary-key lookup, in autocommit mode): the rate limiter asks it so
        that a person coming back from the consent page is never refused.
        """
        statement = select(literal(1)).where(
            col(SignInAttemptRow.state_hash) == state_hash,
            col(SignInAttemptRow.browser_hash) == browser_hash,
            col(SignInAttemptRow.provider) == provider,
            col(SignInAttemptRow.expires_at) > now,
        )
        async with self.outages.watch(), self._autocommit.connect() as connection:
            return (await connection.execute(statement)).first() is not None

    async def take_attempt(
        self, state_hash: str, *, browser_hash: str, provider: str
    ) -> SignInAttemptRow | None:
        """Remove and return the attempt with this state, browser and provider; else ``None``.

        One conditional ``DELETE ... RETURNING`` decides: only the browser that started the
        attempt can consume it (a callback opened anywhere else leaves it usable), and only
        one caller ever receives it, so a replayed callback finds nothing.
        """
        statement = (
            delete(SignInAttemptRow)
            .where(
                col(SignInAttemptRow.state_hash) == state_hash,
                col(SignInAttemptRow.browser_hash) == browser_hash,
                col(SignInAttemptRow.provider) == provider,
            )
            .returning(*_ATTEMPT_COLUMNS)
        )
        async with self.transaction() as session:
            row = (await session.execute(statement)).first()
        return None if row is None else SignInAttemptRow(**row._asdict())

    async def attempt_exists(self, state_hash: str, *, provider: str) -> bool:
        """Whether this provider has an attempt with this state pending.

        Tells a callback opened in the wrong browser from a replayed or unknown ``state``.
        """
        async with self.reader() as session:
            found = await session.execute(
                select(col(SignInAttemptRow.state_hash)).where(
                    col(SignInAttemptRow.state_hash) == state_hash,
                    col(SignInAttemptRow.provider) == provider,
                )
            )
            return found.first() is not None

    # Sessions

    async def find_session(self, token_hash: str) -> SessionLookup | None:
        """The session with this token hash and its user, in one indexed lookup.

        This runs on every request that is not answered from the process cache, so it skips
        the ORM: one Core statement on a connection in autocommit mode.
        """
        async with self.outages.watch(), self._autocommit.connect() as connection:
            row = (await connection.execute(_FIND_SESSION, {"token_hash": token_hash})).first()
        if row is None:
            return None
        return SessionLookup(
            expires_at=row.expires_at,
            last_active_at=row.last_active_at,
            user=UserRow(
                id=row.id,
                email=row.email,
                email_verified=row.email_verified,
                name=row.name,
                image=row.image,
                created_at=row.created_at,
                updated_at=row.updated_at,
            ),
        )

    async def touch_session(self, token_hash: str, at: datetime) -> None:
        """Record activity on a session (for the idle timeout)."""
        async with self.transaction() as session:
            await session.execute(
                update(SessionRow)
                .where(col(SessionRow.token_hash) == token_hash)
                .values(last_active_at=at)
            )

    async def delete_session(self, token_hash: str) -> bool:
        """End a session; ``True`` if it existed."""
        async with self.transaction() as session:
            result = await session.execute(
                delete(SessionRow).where(col(SessionRow.token_hash) == token_hash)
            )
            return _rowcount(result) > 0

    # Accounts

    async def accounts_of(self, user_id: str) -> Sequence[AccountRow]:
        """The provider accounts linked to a user."""
        async with self.reader() as session:
            statement = select(AccountRow).where(col(AccountRow.user_id) == user_id)
            return (await session.execute(statement)).scalars().all()

    async def record_sign_in(
        self,
        *,
        provider: str,
        profile: ProviderProfile,
        seal: Callable[[str], SealedTokens],
        start_session: Callable[[str], SessionRow],
        now: datetime,
    ) -> UserRow:
        """Create or update the user and linked account, and add a session, in ONE transaction.

        Who the person is: the account already linked for ``(provider, account_id)``; else an
        existing user with the same email, only when the provider says the email is verified,
        that user's email is verified too, and that user has no account of this provider yet
        (an account of another provider); else a new user. So two users may share an email.
        Name, email and picture are refreshed from the profile every time.

        Args:
            provider: the provider id.
            profile: the person as the provider describes them.
            seal: encrypts the tokens for the account row with the given id.
            start_session: makes the session row for the given user id.
            now: the time of the sign-in.
        """
        for attempt in range(3):
            try:
                async with self.transaction() as session:
                    return await self._record_sign_in(
                        session, provider, profile, seal, start_session, now
                    )
            except IntegrityError:
                # Two first sign-ins raced (of one account, or of two accounts joining one
                # user); the retry finds the winner's row and decides again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _record_sign_in(
        self,
        session: AsyncSession,
        provider: str,
        profile: ProviderProfile,
        seal: Callable[[str], SealedTokens],
        start_session: Callable[[str], SessionRow],
        now: datetime,
    ) -> UserRow:
        account = (
            await session.execute(
                select(AccountRow).where(
                    col(AccountRow.provider) == provider,
                    col(AccountRow.provider_account_id) == profile.account_id,
                )
            )
        ).scalar_one_or_none()
        user = None if account is None else await session.get(UserRow, account.user_id)
        if user is None and profile.email and profile.email_verified:
            user = await self._user_to_join(session, provider, profile.email)
        if user is None:
            user = UserRow(id=new_id(), created_at=now, updated_at=now)
            session.add(user)
        user.name = profile.name
        user.image = profile.image
        if profile.email:
            user.email = profile.email
            user.email_normalized = normalize_email(profile.email)
            user.email_verified = profile.email_verified
        user.updated_at = now
        # No ORM relationships tie these rows together, so flush in foreign-key order by hand.
        await session.flush()
        if account is None:
            account = AccountRow(
                id=new_id(),
                user_id=user.id,
                provider=provider,
                provider_account_id=profile.account_id,
                created_at=now,
            )
            session.add(account)
        sealed = seal(account.id)
        account.access_token = sealed.access_token
        account.refresh_token = sealed.refresh_token or account.refresh_token
        account.access_token_expires_at = sealed.expires_at
        account.scopes = sealed.scopes
        account.needs_reauth = False
        # New tokens: a refresh or a key rotation that read the old ones must not write over them.
        account.token_version = (account.token_version or 0) + 1
        # A new consent may grant other sites: the cached list describes the old grant.
        account.sites_json = None
        account.sites_fetched_at = None
        account.updated_at = now
        await session.flush()
        session.add(start_session(user.id))
        return user

    @staticmethod
    async def _user_to_join(session: AsyncSession, provider: str, email: str) -> UserRow | None:
        """The user a provider account seen for the first time joins by its verified email.

        Only a user with that verified email and NO account of this provider yet: an email
        address can move to another account of the same provider (a recycled mailbox, a
        lapsed domain), and its new owner must never get the old owner's user and grant.
        """
        has_this_provider = (
            select(col(AccountRow.id))
            .where(col(AccountRow.user_id) == col(UserRow.id), col(AccountRow.provider) == provider)
            .exists()
        )
        return (
            await session.execute(
                select(UserRow)
                .where(
                    col(UserRow.email_normalized) == normalize_email(email),
                    col(UserRow.email_verified).is_(True),
                    ~has_this_provider,
                )
                .order_by(col(UserRow.created_at), col(UserRow.id))
                .limit(1)
            )
        ).scalar_one_or_none()

    # Provider tokens: the refresh lease, compare-and-swap writes and the sites cache

    async def account_of(self, user_id: str, provider: str) -> AccountRow | None:
        """The user's one account with a provider, if linked.

        ``(user_id, provider)`` is unique (``uq_kavach_accounts_user_provider``), so this names
        exactly one grant; were it ever not, this raises rather than pick one.
        """
        async with self.reader() as session:
            statement = select(AccountRow).where(
                col(AccountRow.user_id) == user_id, col(AccountRow.provider) == provider
            )
            return (await session.execute(statement)).scalar_one_or_none()

    async def get_account(self, account_id: str) -> AccountRow | None:
        """An account row as it is now."""
        async with self.reader() as session:
            return await session.get(AccountRow, account_id)

    async def try_lease(
        self, account_id: str, *, version: int, owner: str, now: datetime, until: datetime
    ) -> bool:
        """Take the right to refresh this account's tokens, if nobody holds it.

        Succeeds only if the tokens are still at ``version`` (nobody refreshed since we looked)
        and no live lease exists; an expired lease (its holder died) is taken over.
        """
        async with self.transaction() as session:
            result = await session.execute(
                update(AccountRow)
                .where(
                    col(AccountRow.id) == account_id,
                    col(AccountRow.token_version) == version,
                    col(AccountRow.needs_reauth).is_(False),
                    (col(AccountRow.refresh_lease_until).is_(None))
                    | (col(AccountRow.refresh_lease_until) < now),
                )
                .values(refresh_lease_owner=owner, refresh_lease_until=until)
            )
            return _rowcount(result) == 1

    async def save_refreshed(
        self, account_id: str, *, owner: str, sealed: SealedTokens, now: datetime
    ) -> bool:
        """Store a refreshed token set in one write, if we still hold the lease.

        A ``None`` refresh token in ``sealed`` keeps the stored one.
        """
        values: dict[str, Any] = {
            "access_token": sealed.access_token,
            "access_token_expires_at": sealed.expires_at,
            "token_version": col(AccountRow.token_version) + 1,
            "refresh_lease_owner": None,
            "refresh_lease_until": None,
            "updated_at": now,
        }
        if sealed.refresh_token is not None:
            values["refresh_token"] = sealed.refresh_token
        if sealed.scopes:
            values["scopes"] = sealed.scopes
        async with self.transaction() as session:
            result = await session.execute(
                update(AccountRow)
                .where(
                    col(AccountRow.id) == account_id,
                    col(AccountRow.refresh_lease_owner) == owner,
                )
                .values(**values)
            )
            return _rowcount(result) == 1

    async def release_lease(self, account_id: str, *, owner: str) -> None:
        """Give the lease back without new tokens (the refresh failed for now)."""
        async with self.transaction() as session:
            await session.execute(
                update(AccountRow)
                .where(
                    col(AccountRow.id) == account_id,
                    col(AccountRow.refresh_lease_owner) == owner,
                )
                .values(refresh_lease_owner=None, refresh_lease_until=None)
            )

    async def mark_needs_reauth(self, account_id: str, *, now: datetime) -> None:
        """The grant is dead: keep the link, drop the lease, and ask for consent again."""
        await self._retire_grant(account_id, now=now)

    async def _retire_grant(self, account_id: str, *, now: datetime, **also: Any) -> None:
        async with self.transaction() as session:
            await session.execute(
                update(AccountRow)
                .where(col(AccountRow.id) == account_id)
                .values(
                    needs_reauth=True,
                    refresh_lease_owner=None,
                    refresh_lease_until=None,
                    token_version=col(AccountRow.token_version) + 1,
                    updated_at=now,
                    **also,
                )
            )

    async def save_sites(self, account_id: str, sites_json: str, *, now: datetime) -> None:
        """Cache an account's list of sites."""
        async with self.transaction() as session:
            await session.execute(
                update(AccountRow)
                .where(col(AccountRow.id) == account_id)
                .values(sites_json=sites_json, sites_fetched_at=now)
            )

    async def forget_tokens(self, account_id: str, *, now: datetime) -> None:
        """Disconnect: drop the tokens and cached sites, keep the identity link."""
        await self._retire_grant(
            account_id,
            now=now,
            access_token=None,
            refresh_token=None,
            access_token_expires_at=None,
            sites_json=None,
            sites_fetched_at=None,
        )

    async def account_ids(self) -> Sequence[str]:
        """Every account id, for maintenance such as key rotation."""
        async with self.reader() as session:
            return (await session.execute(select(col(AccountRow.id)))).scalars().all()

    async def reseal_account(
        self,
        account_id: str,
        *,
        version: int,
        access_token: str | None = None,
        refresh_token: str | None = None,
    ) -> bool:
        """Replace an account's tokens with re-encrypted ones, if they are still at ``version``.

        A compare-and-swap: a refresh (or a disconnect) since the caller read the row moved
        ``token_version``, and then nothing is written (``False``); the caller reads the row
        again. ``updated_at`` is left alone, as it says when the tokens were issued.

        Args:
            account_id: the account row.
            version: the ``token_version`` the caller read.
            access_token: the new ciphertext of the access token; ``None`` keeps the column.
            refresh_token: the same for the refresh token.
        """
        values = {
            column: value
            for column, value in (("access_token", access_token), ("refresh_token", refresh_token))
            if value is not None
        }
        if not values:
            return False
        async with self.transaction() as session:
            result = await session.execute(
                update(AccountRow)
                .where(col(AccountRow.id) == account_id, col(AccountRow.token_version) == version)
                .values(**values)
            )
            return _rowcount(result) == 1

    # Housekeeping

    async def purge_sessions(self, *, now: datetime, idle_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` sessions that expired or sat idle; returns how many."""
        async with self.transaction() as session:
            doomed = (
                select(col(SessionRow.token_hash))
                .where(
                    (col(SessionRow.expires_at) <= now)
                    | (col(SessionRow.last_active_at) <= idle_before)
                )
                .limit(limit)
            )
            hashes = (await session.execute(doomed)).scalars().all()
            if not hashes:
                return 0
            result = await session.execute(
                delete(SessionRow).where(col(SessionRow.token_hash).in_(hashes))
            )
            return _rowcount(result)

    async def purge_attempts(self, *, now: datetime, limit: int | None = None) -> int:
        """Delete expired sign-in attempts (at most ``limit``); returns how many."""
        doomed = col(SignInAttemptRow.expires_at) <= now
        if limit is not None:
            oldest = select(col(SignInAttemptRow.state_hash)).where(doomed).limit(limit)
            doomed = col(SignInAttemptRow.state_hash).in_(oldest)
        async with self.transaction() as session:
            return _rowcount(await session.execute(delete(SignInAttemptRow).where(doomed)))
