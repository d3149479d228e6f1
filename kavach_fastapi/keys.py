"""Key rotation: every stored provider token re-encrypted with the newest ``KAVACH_SECRET`` key.

Put the new key first in ``KAVACH_SECRET`` (``NEW,OLD``), run ``kavach keys rotate``, then drop
the old key. Tokens of the earlier format (``v1``, bound to the account's row id) are rewritten
in the current one on the way.
"""

from __future__ import annotations

from collections.abc import Callable

from .crypto import TOKEN_COLUMNS, Keyring, reseal_token
from .store.accounts import AccountStore
from .token_refresh import owner_of


class KeyRotation:
    """Re-encrypts stored tokens; needs the database and the keys, nothing of the providers.

    Args:
        accounts: the accounts table.
        keyring: the configured keys, newest first.
    """

    def __init__(self, accounts: AccountStore, keyring: Keyring) -> None:
        self._store = accounts
        self._keyring = keyring

    async def rotate(self, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-encrypt every stored token with the newest key; returns how many rows changed.

        Each row is rewritten only if its tokens are still the ones that were read (a
        compare-and-swap on ``token_version``): a refresh that lands in between is read
        again and re-encrypted, never overwritten with the retired refresh token.

        Args:
            progress: called with (accounts done, accounts in all) after each account.
        """
        changed = 0
        account_ids = await self._store.account_ids()
        for done, account_id in enumerate(account_ids, start=1):
            if await self._reseal(account_id):
                changed += 1
            if progress is not None:
                progress(done, len(account_ids))
        return changed

    async def _reseal(self, account_id: str) -> bool:
        """Re-encrypt one account's tokens; ``False`` when none needed it (or the row is gone)."""
        while True:
            row = await self._store.get_account(account_id)
            if row is None:
                return False
            resealed = {}
            for column in TOKEN_COLUMNS:
                value = getattr(row, column)
                fresh = (
                    None
                    if value is None
                    else reseal_token(self._keyring, value, owner_of(row), column)
                )
                if fresh is not None:
                    resealed[column] = fresh
            if not resealed:
                return False
            if await self._store.reseal_account(account_id, version=row.token_version, **resealed):
                return True
            # The tokens moved on (a refresh, say) since they were read: read them again.
