"""A callback URL seen by someone else cannot end the sign-in of the browser that started it.

The attacker learns a victim's callback URL (a shoulder, a shared screen, a proxy log) and opens
it first, in their own browser. They must get nothing, and the victim's sign-in must still
finish: only the browser that started an attempt can consume it.
"""

from __future__ import annotations

import httpx2

from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import SESSION, approve, session_cookie, start_sign_in


async def test_a_callback_from_another_browser_leaves_the_attempt_usable(
    attacker: httpx2.AsyncClient, victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    callback = await approve(emulator, await start_sign_in(victim, redirect_to="/inbox"))

    stolen = await attacker.get(callback)
    finished = await victim.get(callback)

    assert stolen.status_code == 303
    assert stolen.headers["location"] == "/?error=browser_mismatch"
    assert session_cookie(attacker) is None
    assert finished.status_code == 303
    assert finished.headers["location"] == "/inbox"
    me = (await victim.get(SESSION)).json()["user"]
    assert me["email"] == emulator.users[0].email
    assert emulator.calls["authorization_code"] == 1, "the code is redeemed once, by the victim"


async def test_a_callback_without_the_binding_cookie_leaves_the_attempt_usable(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator
) -> None:
    callback = await approve(emulator, await start_sign_in(victim, redirect_to="/inbox"))
    binding = dict(victim.cookies)

    victim.cookies.clear()
    refused = await victim.get(callback)
    victim.cookies.update(binding)
    finished = await victim.get(callback)

    assert refused.headers["location"] == "/?error=browser_mismatch"
    assert finished.headers["location"] == "/inbox"
