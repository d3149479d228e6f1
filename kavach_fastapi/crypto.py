"""Random tokens, their hashes, and the encryption of secrets at rest.

Session tokens, sign-in states and browser bindings are random values of 256 bits. Only their
SHA-256 hashes are stored, so a copy of the database cannot be turned into a working cookie.

Provider tokens (and PKCE verifiers) are encrypted with AES-256-GCM. Each ciphertext is bound to
what it belongs to (the *context*, used as associated data), so a value copied elsewhere does
not decrypt. Keys come from ``KAVACH_SECRET``; with several keys the first encrypts and all are
tried for reading, which is how keys rotate.

A provider token is bound to its account's stable identity, the provider and the provider's
account id, and to its column (`token_context`), so the sign-in can seal tokens before it
knows the account row. Ciphertexts are written in format ``v2``. The format ``v1`` of earlier
versions bound tokens to the account's row id instead; those still decrypt, and
``kavach keys rotate`` rewrites them as ``v2``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .codes import ErrorCode
from .errors import ConfigurationError, KavachError

FORMAT = "v2"
"""The format new ciphertexts are written in."""
LEGACY_FORMAT = "v1"
"""The format of earlier versions, read still: provider tokens bound to the account's row id."""
_FORMATS = (FORMAT, LEGACY_FORMAT)
_NONCE_BYTES = 12
TOKEN_COLUMNS = ("access_token", "refresh_token")


def new_token(nbytes: int = 32) -> str:
    """Return a URL-safe random token carrying ``nbytes`` bytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token, the only form in which tokens are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class DecryptionError(KavachError):
    """A stored value could not be decrypted with any configured key.

    Either the value was tampered with or copied from another row, or the key that encrypted it
    is no longer in ``KAVACH_SECRET``.
    """

    code = ErrorCode.NOT_CONFIGURED
    default_message = "A stored credential could not be read."


def _derive(key: str, purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kavach-fastapi", info=purpose)
    return hkdf.derive(key.encode())


@dataclass(frozen=True)
class _Key:
    kid: str
    aead: AESGCM


class Keyring:
    """The configured keys; the first one encrypts, every one decrypts.

    Args:
        keys: the secrets, newest first, as given in ``KAVACH_SECRET``.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigurationError("KAVACH_SECRET: at least one key is needed.")
        self._keys = tuple(
            _Key(kid=_derive(key, b"key-id")[:6].hex(), aead=AESGCM(_derive(key, b"aes-256-gcm")))
            for key in keys
        )

    @property
    def primary_kid(self) -> str:
        """Identifier of the key that encrypts new values."""
        return self._keys[0].kid

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext`` so that it only decrypts with the same ``context``."""
        key = self._keys[0]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, plaintext.encode(), context.encode())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{FORMAT}.{key.kid}.{payload}"

    def decrypt(self, value: str, *, context: str) -> str:
        """Decrypt a value made by `encrypt` with the same ``context``.

        Raises:
            DecryptionError: the value is malformed, tampered with, bound to another row, or
                made with a key that is no longer configured.
        """
        try:
            version, kid, payload = value.split(".", 2)
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except ValueError:
            raise DecryptionError from None
        if version not in _FORMATS or len(raw) <= _NONCE_BYTES:
            raise DecryptionError
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for key in self._keys:
            if key.kid != kid:
                continue
            try:
                return key.aead.decrypt(nonce, sealed, context.encode()).decode()
            except InvalidTag:
                raise DecryptionError from None
        raise DecryptionError

    def is_current(self, value: str) -> bool:
        """Whether ``value`` is in the current format and key (else it should be re-encrypted)."""
        return value.startswith(f"{FORMAT}.{self.primary_kid}.")


@dataclass(frozen=True)
class TokenOwner:
    """The account a provider token belongs to, as its ciphertext is bound to it.

    Attributes:
        provider: the provider id, e.g. ``atlassian``.
        account_id: the provider's id of the account (stable: the identity key).
        row_id: the account's row id, which ``v1`` ciphertexts are bound to; ``None`` before
            the row exists (a sign-in seals its tokens before its transaction).
    """

    provider: str
    account_id: str
    row_id: str | None = None


def token_context(owner: TokenOwner, column: str) -> str:
    """What a stored provider token is bound to: its account's identity and its column."""
    return f"kavach:accounts:{owner.provider}:{owner.account_id}:{column}"


def _legacy_token_context(row_id: str, column: str) -> str:
    return f"kavach:accounts:{row_id}:{column}"


class _Tokens(Protocol):
    @property
    def access_token(self) -> str: ...
    @property
    def refresh_token(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class SealedTokens:
    """Provider tokens encrypted for one account, ready to store."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: str


def seal_tokens(
    keyring: Keyring, tokens: _Tokens, owner: TokenOwner, requested: tuple[str, ...] = ()
) -> SealedTokens:
    """Encrypt a token set for one account; a missing refresh token stays ``None``.

    Args:
        keyring: the configured keys.
        tokens: what the provider answered.
        owner: the account the tokens are bound to.
        requested: scopes to record when the provider did not say which it granted.
    """
    refresh = tokens.refresh_token
    return SealedTokens(
        access_token=keyring.encrypt(
            tokens.access_token, context=token_context(owner, "access_token")
        ),
        refresh_token=(
            keyring.encrypt(refresh, context=token_context(owner, "refresh_token"))
            if refresh
            else None
        ),
        expires_at=tokens.expires_at,
        scopes=" ".join(tokens.scopes or requested),
    )


def open_token(keyring: Keyring, value: str, owner: TokenOwner, column: str) -> str:
    """Decrypt a stored provider token, of either format.

    Raises:
        DecryptionError: as `Keyring.decrypt`, or a ``v1`` value without ``owner.row_id``.
    """
    if not value.startswith(f"{LEGACY_FORMAT}."):
        return keyring.decrypt(value, context=token_context(owner, column))
    if owner.row_id is None:
        raise DecryptionError
    return keyring.decrypt(value, context=_legacy_token_context(owner.row_id, column))


def reseal_token(keyring: Keyring, value: str, owner: TokenOwner, column: str) -> str | None:
    """The token encrypted anew in the current format and key; ``None`` when it already is."""
    if keyring.is_current(value):
        return None
    plaintext = open_token(keyring, value, owner, column)
    return keyring.encrypt(plaintext, context=token_context(owner, column))
