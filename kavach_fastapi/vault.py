"""How provider tokens are sealed for the account row they belong to.

Each token is encrypted with the row id and column as associated data, so a ciphertext copied
into another row or column does not decrypt.
"""

from __future__ import annotations

from .crypto import Keyring
from .oauth import TokenSet
from .store import SealedTokens

TOKEN_COLUMNS = ("access_token", "refresh_token")


def token_context(account_id: str, column: str) -> str:
    """What a stored provider token is bound to: its account row and column."""
    return f"kavach:accounts:{account_id}:{column}"


def seal_tokens(
    keyring: Keyring, tokens: TokenSet, account_id: str, requested: tuple[str, ...] = ()
) -> SealedTokens:
    """Encrypt a token set for one account row; a missing refresh token stays ``None``.

    Args:
        keyring: the configured keys.
        tokens: what the provider answered.
        account_id: the row the tokens are bound to.
        requested: scopes to record when the provider did not say which it granted.
    """
    return SealedTokens(
        access_token=keyring.encrypt(
            tokens.access_token, context=token_context(account_id, "access_token")
        ),
        refresh_token=(
            keyring.encrypt(
                tokens.refresh_token, context=token_context(account_id, "refresh_token")
            )
            if tokens.refresh_token
            else None
        ),
        expires_at=tokens.expires_at,
        scopes=" ".join(tokens.scopes or requested),
    )
