"""Mix-up: a callback whose ``iss`` names another issuer than the configured provider.

RFC 9207 lets an authorization server name itself in the callback; a client that talks to
several must refuse an answer naming the wrong one, or a malicious server could have its code
sent to the honest one. Atlassian sends no ``iss`` today, so it is optional, but one that is
present and names anything but the configured ``ATLASSIAN_AUTH_URL`` is refused before the code
is ever exchanged.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest

from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import EMULATOR_URL

from .conftest import EVIL, SESSION, approve, snapshot, start_sign_in

OTHER_ISSUERS = {
    "another-host": f"https://{EVIL}",
    "the-real-atlassian-while-configured-for-another": "https://auth.atlassian.com",
    "configured-host-as-prefix": f"{EMULATOR_URL}.{EVIL}",
    "configured-issuer-with-a-path": f"{EMULATOR_URL}/tenant",
    "configured-host-other-scheme": EMULATOR_URL.replace("http://", "https://"),
    "configured-issuer-with-userinfo": EMULATOR_URL.replace("http://", f"http://{EVIL}@"),
    "empty": "",
    "oversized": f"{EMULATOR_URL}/{'a' * 20_000}",
}


@pytest.mark.parametrize("issuer", OTHER_ISSUERS.values(), ids=OTHER_ISSUERS.keys())
async def test_an_iss_naming_another_issuer_is_refused(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path, issuer: str
) -> None:
    callback = await approve(emulator, await start_sign_in(victim, redirect_to="/back"))
    before = snapshot(database)

    response = await victim.get(f"{callback}&iss={quote(issuer, safe='')}")

    assert response.status_code == 303
    assert response.headers["location"] == "/back?error=issuer_mismatch"
    assert (await victim.get(SESSION)).status_code == 401
    assert snapshot(database) == before
    assert emulator.calls["token"] == 0, "the code is never sent to the token endpoint"


@pytest.mark.parametrize("issuer", [EMULATOR_URL, f"{EMULATOR_URL}/"])
async def test_an_iss_naming_the_configured_issuer_is_accepted(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, issuer: str
) -> None:
    """The control: the configured issuer (with or without a trailing slash) signs in."""
    callback = await approve(emulator, await start_sign_in(victim, redirect_to="/back"))

    response = await victim.get(f"{callback}&iss={quote(issuer, safe='')}")

    assert response.headers["location"] == "/back"
    assert (await victim.get(SESSION)).status_code == 200
