"""Random tokens, their hashes, and provider tokens encrypted at rest with rotating keys."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kavach_fastapi.crypto import DecryptionError, Keyring, hash_token, new_token
from kavach_fastapi.errors import ConfigurationError, KavachError

OLD_KEY = "old-key-" + "o" * 32
NEW_KEY = "new-key-" + "n" * 32
CONTEXT = "oauth_account:42:access_token"


def test_encrypted_value_decrypts_to_the_plaintext() -> None:
    keyring = Keyring([NEW_KEY])
    value = keyring.encrypt("secret-access-token", context=CONTEXT)
    assert keyring.decrypt(value, context=CONTEXT) == "secret-access-token"


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    value = Keyring([NEW_KEY]).encrypt("secret-access-token", context=CONTEXT)
    assert "secret-access-token" not in value


def test_encrypting_twice_gives_different_ciphertexts() -> None:
    keyring = Keyring([NEW_KEY])
    first = keyring.encrypt("same", context=CONTEXT)
    second = keyring.encrypt("same", context=CONTEXT)
    assert first != second
    assert keyring.decrypt(first, context=CONTEXT) == keyring.decrypt(second, context=CONTEXT)


@given(st.text(), st.text())
def test_any_text_round_trips_under_any_context(plaintext: str, context: str) -> None:
    keyring = Keyring([NEW_KEY])
    assert keyring.decrypt(keyring.encrypt(plaintext, context=context), context=context) == (
        plaintext
    )


def test_value_bound_to_one_context_does_not_decrypt_in_another() -> None:
    keyring = Keyring([NEW_KEY])
    value = keyring.encrypt("token", context="oauth_account:1:access_token")
    with pytest.raises(DecryptionError):
        keyring.decrypt(value, context="oauth_account:2:access_token")
    with pytest.raises(DecryptionError):
        keyring.decrypt(value, context="oauth_account:1:refresh_token")


def test_every_single_character_change_is_detected() -> None:
    keyring = Keyring([NEW_KEY])
    value = keyring.encrypt("token", context=CONTEXT)
    # The final base64 character may carry only padding bits, so it is left out.
    for index in range(len(value) - 1):
        replacement = "A" if value[index] != "A" else "B"
        tampered = value[:index] + replacement + value[index + 1 :]
        with pytest.raises(DecryptionError):
            keyring.decrypt(tampered, context=CONTEXT)


def test_truncated_value_fails_to_decrypt() -> None:
    keyring = Keyring([NEW_KEY])
    value = keyring.encrypt("token", context=CONTEXT)
    with pytest.raises(DecryptionError):
        keyring.decrypt(value[:-4], context=CONTEXT)


def test_rotated_keyring_decrypts_values_made_with_the_old_key() -> None:
    old_value = Keyring([OLD_KEY]).encrypt("token", context=CONTEXT)
    rotated = Keyring([NEW_KEY, OLD_KEY])
    assert rotated.decrypt(old_value, context=CONTEXT) == "token"


def test_rotated_keyring_encrypts_with_the_new_key() -> None:
    rotated = Keyring([NEW_KEY, OLD_KEY])
    value = rotated.encrypt("token", context=CONTEXT)
    assert Keyring([NEW_KEY]).decrypt(value, context=CONTEXT) == "token"
    with pytest.raises(DecryptionError):
        Keyring([OLD_KEY]).decrypt(value, context=CONTEXT)
    assert rotated.primary_kid == Keyring([NEW_KEY]).primary_kid


def test_is_current_is_false_for_values_made_with_an_older_key() -> None:
    old_value = Keyring([OLD_KEY]).encrypt("token", context=CONTEXT)
    rotated = Keyring([NEW_KEY, OLD_KEY])
    assert not rotated.is_current(old_value)
    assert rotated.is_current(rotated.encrypt("token", context=CONTEXT))


def test_value_from_an_unknown_key_fails_to_decrypt() -> None:
    value = Keyring(["some-other-key-" + "x" * 32]).encrypt("token", context=CONTEXT)
    with pytest.raises(DecryptionError):
        Keyring([NEW_KEY, OLD_KEY]).decrypt(value, context=CONTEXT)


def test_keyring_accepts_keys_of_any_length() -> None:
    keyring = Keyring(["k"])
    assert keyring.decrypt(keyring.encrypt("x", context="c"), context="c") == "x"


def test_keyring_without_keys_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="KAVACH_SECRET"):
        Keyring([])


def test_same_key_gives_the_same_key_id_in_every_keyring() -> None:
    assert Keyring([NEW_KEY]).primary_kid == Keyring([NEW_KEY, OLD_KEY]).primary_kid
    assert Keyring([NEW_KEY]).primary_kid != Keyring([OLD_KEY]).primary_kid


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "..",
        "v1",
        "v1.abc",
        "v1.abc.",
        "v1.abc.!!!!",
        "v1.abc.\u00e9\u00e9\u00e9",
        "v1.abc.A",
        "v1.abc.AAAAAAAAAAAAAAAA",
        "v2.abc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not an encrypted value at all",
        "\x00\x00\x00",
    ],
)
def test_malformed_value_raises_decryption_error(value: str) -> None:
    with pytest.raises(DecryptionError):
        Keyring([NEW_KEY]).decrypt(value, context=CONTEXT)


@given(st.text())
def test_arbitrary_text_raises_decryption_error_and_nothing_else(value: str) -> None:
    keyring = Keyring([NEW_KEY])
    with pytest.raises(DecryptionError):
        keyring.decrypt(value, context=CONTEXT)
    with pytest.raises(DecryptionError):
        keyring.decrypt(f"v1.{keyring.primary_kid}.{value}", context=CONTEXT)


def test_decryption_error_is_a_kavach_error_with_a_safe_message() -> None:
    error = DecryptionError()
    assert isinstance(error, KavachError)
    assert error.status_code == 500
    assert error.message == "A stored credential could not be read."


def test_hash_token_is_64_hex_characters_and_deterministic() -> None:
    digest = hash_token("a-session-token")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hash_token("a-session-token") == digest


def test_hash_token_differs_per_token() -> None:
    assert hash_token("token-one") != hash_token("token-two")
    assert hash_token("") != hash_token(" ")


def test_hash_token_is_sha256_of_the_utf8_token() -> None:
    # The published digest of "abc" from FIPS 180-2.
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_new_token_is_url_safe_and_carries_256_bits_by_default() -> None:
    token = new_token()
    assert len(token) == 43  # 32 bytes in unpadded base64
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")


def test_new_token_length_follows_the_requested_entropy() -> None:
    assert len(new_token(16)) == 22
    assert len(new_token(64)) == 86


def test_new_tokens_do_not_repeat() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
