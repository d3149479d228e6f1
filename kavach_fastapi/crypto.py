"""Random tokens, their hashes, and encryption of provider tokens at rest.

Session tokens, sign-in states and browser bindings are random values of 256 bits. Only their
SHA-256 hashes are stored, so a copy of the database cannot be turned into a working cookie.

Provider tokens are encrypted with AES-256-GCM. Each ciphertext is bound to the row and column
it belongs to (the *context*, used as associated data), so a value copied into another row does
not decrypt. Keys come from ``KAVACH_SECRET``; with several keys the first encrypts and all are
tried for reading, which is how keys rotate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigurationError, ErrorCode, KavachError

_FORMAT = "v1"
_NONCE_BYTES = 12


def new_token(nbytes: int = 32) -> str:
    """Return a URL-safe random token carrying ``nbytes`` bytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token, the only form in which tokens are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(first: str, second: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(first.encode(), second.encode())


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
        return f"{_FORMAT}.{key.kid}.{payload}"

    def decrypt(self, value: str, *, context: str) -> str:
        """Decrypt a value made by :meth:`encrypt` with the same ``context``.

        Raises:
            DecryptionError: the value is malformed, tampered with, bound to another row, or
                made with a key that is no longer configured.
        """
        try:
            version, kid, payload = value.split(".", 2)
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except ValueError:
            raise DecryptionError from None
        if version != _FORMAT or len(raw) <= _NONCE_BYTES:
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
        """Whether ``value`` was encrypted with the newest key (else it should be re-encrypted)."""
        return value.startswith(f"{_FORMAT}.{self.primary_kid}.")
