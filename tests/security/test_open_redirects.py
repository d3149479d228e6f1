"""Open redirects: ``redirect_to`` is chosen by whoever crafts the sign-in link.

A link such as ``/auth/oauth/authorize/atlassian?redirect_to=//evil.example`` would, if trusted,
send a person from a genuine Atlassian consent page to a phishing site. Each value goes through
the real endpoints (authorize, the emulator's consent page, callback) on both ways out, signed in
and declined, and the browser must land on this site. ``lands_on_this_site`` decides as a browser
would, without asking the package's own validator.
"""

from __future__ import annotations

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kavach_fastapi.emulator import AtlassianEmulator
from tests.support.redirects import hostile_redirects

from .conftest import EVIL, SIGN_OUT, approve, lands_on_this_site, sign_in, start_sign_in

HOSTILE = hostile_redirects()

KEPT = {
    "plain-path": "/dashboard",
    "path-with-query-and-fragment": "/projects/42?tab=issues#top",
    "encoded-space-in-query": "/search?q=a%20b",
    "own-origin-absolute": "http://testserver/welcome",
}
"""Controls: safe places are kept exactly, so the corpus above is not passing by accident."""


async def landings(
    client: httpx2.AsyncClient, emulator: AtlassianEmulator, redirect_to: str
) -> tuple[str, str]:
    """Where the browser is sent after signing in, and after declining, with ``redirect_to``."""
    signed_in = await sign_in(client, emulator, redirect_to=redirect_to)
    declined = await start_sign_in(client, redirect_to=redirect_to)
    refused = await client.get(await emulator.decline(declined.url))
    assert refused.status_code == 303, refused.text
    return signed_in.headers["location"], refused.headers["location"]


async def test_hostile_redirect_to_values_always_land_on_this_site(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    problems = {}
    for name, value in HOSTILE.items():
        after_sign_in, after_decline = await landings(victim, emulator, value)
        if not (lands_on_this_site(after_sign_in) and lands_on_this_site(after_decline)):
            problems[name] = ("left the site", after_sign_in, after_decline)
        elif (after_sign_in, after_decline) != ("/", "/?error=access_denied"):
            problems[name] = ("kept instead of falling back to /", after_sign_in, after_decline)

    assert problems == {}


@pytest.mark.parametrize("value", KEPT.values(), ids=KEPT.keys())
async def test_safe_redirect_to_values_are_kept(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, value: str
) -> None:
    after_sign_in, after_decline = await landings(victim, emulator, value)

    assert after_sign_in == value
    assert lands_on_this_site(after_sign_in)
    assert lands_on_this_site(after_decline)
    assert "error=access_denied" in after_decline


async def test_hostile_redirect_to_values_after_sign_out_land_on_this_site(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    await sign_in(victim, emulator)
    for name, value in HOSTILE.items():
        response = await victim.post(SIGN_OUT, params={"redirect_to": value})
        assert response.status_code == 303, name
        assert response.headers["location"] == "/", name


PREFIXES = st.sampled_from(
    [
        "",
        "/",
        "//",
        "///",
        "\\",
        "/\\",
        "\\\\",
        "%2F",
        "/%2F",
        "/%5C",
        "/%252F",
        "http://",
        "https://",
        "http:",
        "//testserver@",
        "http://testserver@",
        "http://testserver.",
        "http://testserver\\",
        "javascript:",
        "data:text/html,",
        " ",
        "\t",
        "\uff0f",
        "/\u2215",
    ]
)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
REDIRECT_VALUES = st.one_of(
    st.builds(lambda prefix, rest: prefix + rest, PREFIXES, TEXT),
    st.builds(lambda prefix, rest: f"{prefix}{EVIL}{rest}", PREFIXES, TEXT),
    TEXT,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=REDIRECT_VALUES)
async def test_any_redirect_to_lands_on_this_site(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, value: str
) -> None:
    """Property: whatever ``redirect_to`` says, the callback sends the browser somewhere here."""
    consent = await start_sign_in(victim, redirect_to=value)
    declined = await victim.get(await emulator.decline(consent.url))

    assert declined.status_code == 303
    assert lands_on_this_site(declined.headers["location"])


async def test_a_kept_redirect_is_the_attempts_not_the_callbacks(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    """A ``redirect_to`` added to the callback URL is ignored: only the one checked at start counts."""
    callback = await approve(emulator, await start_sign_in(victim, redirect_to="/home"))

    response = await victim.get(f"{callback}&redirect_to=https%3A%2F%2F{EVIL}%2F")

    assert response.headers["location"] == "/home"
