"""A ``KAVACH_SECRET`` a person typed (one letter, a sequence, a word repeated) stops the app.

Whoever guesses the key decrypts every stored Atlassian token, so an obviously guessable key is
refused at start-up with a message that names the variable and how to make a good key, and
never repeats the key. Keys made by a random generator pass, whatever their encoding.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kavach_fastapi import ConfigurationError, KavachSettings
from kavach_fastapi.settings import GENERATE_KEY, load_settings

GOOD_KEY = "Cdp2deN-BrFQdcml3ic4geWhd56ee0KNiBkLTXNBuTQ"

GUESSABLE = {
    "one-character-repeated": "s" * 40,
    "one-hex-digit-repeated": "0" * 64,
    "a-placeholder-repeated": "CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME",
    "a-word-repeated": "changeme" * 4,
    "a-phrase-repeated": "Tr0ub4dor&3" * 3,
    "the-alphabet": "abcdefghijklmnopqrstuvwxyz012345",
    "digits-counting-up": "0123456789" * 4,
    "digits-counting-down": "9876543210" * 4,
    "pairs-in-sequence": "aabbccddeeffgghhiijjkkllmmnnooppqq",
}


@pytest.mark.parametrize("key", GUESSABLE.values(), ids=GUESSABLE.keys())
def test_a_guessable_secret_is_refused_naming_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("KAVACH_SECRET", key)

    with pytest.raises(ConfigurationError) as caught:
        load_settings(KavachSettings)

    message = caught.value.message
    assert "KAVACH_SECRET:" in message
    assert "too easy to guess" in message
    assert GENERATE_KEY in message
    assert key not in message


def test_a_guessable_key_among_good_ones_is_refused_and_named_by_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAVACH_SECRET", f"{GOOD_KEY},{'x' * 32}")

    with pytest.raises(ConfigurationError) as caught:
        load_settings(KavachSettings)

    assert "key 2 of 2 is too easy to guess" in caught.value.message
    assert GOOD_KEY not in caught.value.message


def test_a_guessable_secret_given_as_an_argument_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="too easy to guess"):
        load_settings(KavachSettings, secret="a" * 32)


# How people and tools generate keys: each gives at least 128 random bits.
GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "token_urlsafe(32)": lambda rng: _urlsafe(rng.randbytes(32)),
    "token_urlsafe(24)": lambda rng: _urlsafe(rng.randbytes(24)),
    "openssl rand -base64 32": lambda rng: base64.b64encode(rng.randbytes(32)).decode(),
    "token_hex(16)": lambda rng: rng.randbytes(16).hex(),
    "token_hex(32)": lambda rng: rng.randbytes(32).hex(),
}


def _urlsafe(raw: bytes) -> str:
    # What secrets.token_urlsafe does with its random bytes.
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# The bytes must be random, as a generator's are: Hypothesis choosing them would, rightly,
# find the all-zero bytes, whose encoding (AAAA...) is refused.
@settings(max_examples=500, deadline=None)
@given(st.randoms(use_true_random=True), st.sampled_from(sorted(GENERATORS)))
def test_generated_keys_always_pass(rng: random.Random, generator: str) -> None:
    key = GENERATORS[generator](rng)

    settings_ = load_settings(KavachSettings, secret=key)

    assert settings_.secret_keys == (key,)


BLOCKS = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","),
    min_size=1,
    max_size=16,
)
"""Printable ASCII without white space (trimmed from keys) or commas (which separate keys)."""


@given(BLOCKS)
def test_any_block_repeated_to_the_minimum_length_is_refused(block: str) -> None:
    key = (block * 32)[: max(32, 2 * len(block))]

    with pytest.raises(ConfigurationError, match="too easy to guess"):
        load_settings(KavachSettings, secret=key)
