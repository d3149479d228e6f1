"""The package never sends a PKCE verifier for a sign-in whose consent URL had no challenge.

RFC 9700 (section 2.1.1) has the authorization server refuse a ``code_verifier`` for a code that
was issued without a ``code_challenge``: a client that loses its challenge on the way to the
consent page would otherwise leave its codes unprotected and never notice. The emulator refuses
it like that, so these sign-ins would fail if the package ever sent one without the other.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI

from kavach_fastapi import atlassian_provider
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import EMULATOR_URL, emulator_transport
from tests.support.apps import build_app

from .conftest import SECRET, approve, browser, running, start_sign_in


def app_with_pkce(database: Path, emulator: AtlassianEmulator, *, use_pkce: bool) -> FastAPI:
    client = emulator.default_client
    provider = atlassian_provider(
        client.client_id,
        client.client_secret,
        auth_url=EMULATOR_URL,
        api_url=EMULATOR_URL,
        use_pkce=use_pkce,
    )
    return build_app(
        [provider],
        database_url=f"sqlite:///{database}",
        secret=SECRET,
        rate_limit=0,
        http_transport=emulator_transport(emulator),
    )


@pytest.mark.parametrize("use_pkce", [True, False], ids=["pkce", "no-pkce"])
async def test_a_verifier_is_sent_exactly_when_a_challenge_was(
    database: Path, emulator: AtlassianEmulator, use_pkce: bool
) -> None:
    app = app_with_pkce(database, emulator, use_pkce=use_pkce)

    async with running(app), browser(app) as client:
        consent = await start_sign_in(client)
        finished = await client.get(await approve(emulator, consent))

    challenge = parse_qs(urlsplit(consent.url).query).get("code_challenge")
    exchange = emulator.last_request["token"].form
    assert finished.status_code == 303
    assert "error=" not in finished.headers["location"], finished.headers["location"]
    assert bool(challenge) is use_pkce
    assert ("code_verifier" in exchange) is use_pkce
