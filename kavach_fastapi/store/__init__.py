"""The store: every read and write of the package's tables, by concern.

Each query takes values (rows, hashes, ciphertexts, times) and runs in one unit of work of
`Database`, so a database outage surfaces as
``DatabaseUnavailableError`` (503), never as a driver's exception; a query added here gets that by
using those units of work. Nothing here calls back into a service: the services prepare what goes
in (sealed tokens, the session's hash) before the transaction.
"""

from __future__ import annotations

from ..database import Database
from ..settings import KavachSettings
from .accounts import AccountStore
from .attempts import AttemptStore
from .counters import CounterStore
from .feed import FeedStore
from .privacy import PrivacyStore
from .quota import QuotaStore
from .sessions import SessionStore
from .signins import SignInStore
from .users import UserStore


class Store:
    """The queries of one app's database, grouped by the table they serve.

    Args:
        database: the database, or a SQLAlchemy URL of one opened with the default timeouts
            (the async driver is added when it is missing).
    """

    def __init__(self, database: Database | str) -> None:
        self.database = database if isinstance(database, Database) else Database(database)
        self.attempts = AttemptStore(self.database)
        self.sessions = SessionStore(self.database)
        self.signins = SignInStore(self.database)
        self.accounts = AccountStore(self.database)
        self.counters = CounterStore(self.database)
        self.quota = QuotaStore(self.database)
        self.privacy = PrivacyStore(self.database, self.sessions)
        self.feed = FeedStore(self.database)
        self.users = UserStore(self.database)

    @classmethod
    def from_settings(cls, settings: KavachSettings) -> Store:
        """The store of the settings' database (`Database.from_settings`)."""
        return cls(Database.from_settings(settings))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.database.dispose()
