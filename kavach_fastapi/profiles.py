"""Profiles read again when Atlassian says they changed (an ``updated`` answer, `.privacy`)."""

from __future__ import annotations

import logging

from .errors import KavachError
from .oauth import OAuthClient
from .store.accounts import AccountStore
from .tables import AccountRow, utcnow
from .throttle import OncePer

logger = logging.getLogger("kavach_fastapi")

REREAD_INTERVAL = 60.0
"""Seconds between two tries of this process to read one stale profile again."""


class ProfileRereads:
    """Reads a stale profile again with a token the caller already has, and stores it.

    One try per account and `REREAD_INTERVAL` in a process: concurrent requests, or a ``/me``
    that keeps failing, must not turn every token use into a profile call.
    """

    def __init__(self, accounts: AccountStore) -> None:
        self._store = accounts
        self._tries = OncePer(REREAD_INTERVAL)

    async def reread(self, row: AccountRow, client: OAuthClient, token: str) -> bool:
        """Read ``row``'s profile again; ``True`` once it is stored fresh.

        A failure leaves it marked for the next chance (``False``): the token is still good.
        """
        if not self._tries.allow(row.id):
            return False
        try:
            profile = client.provider.parse_profile(await client.fetch_profile(token))
        except (KavachError, AttributeError, TypeError, ValueError) as exc:
            logger.info("profile of account %s not read again yet: %s", row.id, type(exc).__name__)
            return False
        if profile.account_id != row.provider_account_id:
            logger.warning("profile of account %s names another account; not stored", row.id)
            return False
        await self._store.save_profile(row.id, row.user_id, profile, now=utcnow())
        return True
