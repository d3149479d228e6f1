"""POST /oauth/token with grant_type=refresh_token: rotation, reuse, expiry, revocation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from kavach_fastapi.emulator import AtlassianEmulator, EmulatedClient, Lifetimes

from .flow import Flow

DEAD = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token"}


async def test_refresh_rotates_and_retired_token_works_within_reuse_interval(
    flow: Flow,
) -> None:
    tokens = await flow.sign_in()

    rotated = await flow.refresh(tokens["refresh_token"])
    flow.emu.clock.advance(timedelta(minutes=9))
    retried = await flow.refresh(tokens["refresh_token"])

    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    assert rotated.json()["access_token"] != tokens["access_token"]
    assert retried.status_code == 200
    assert retried.json()["refresh_token"] not in (
        tokens["refresh_token"],
        rotated.json()["refresh_token"],
    )
    assert (await flow.me(retried.json()["access_token"])).status_code == 200
    assert (await flow.refresh(retried.json()["refresh_token"])).status_code == 200


async def test_retired_refresh_token_after_interval_revokes_grant(flow: Flow) -> None:
    tokens = await flow.sign_in()
    current = (await flow.refresh(tokens["refresh_token"])).json()
    flow.emu.clock.advance(timedelta(minutes=10, seconds=1))

    replay = await flow.refresh(tokens["refresh_token"])

    assert replay.status_code == 403
    assert replay.json() == DEAD
    assert (await flow.me(current["access_token"])).status_code == 401
    assert (await flow.refresh(current["refresh_token"])).json() == DEAD


async def test_reuse_interval_is_configurable() -> None:
    emu = AtlassianEmulator(refresh_reuse_interval=timedelta(0))
    assert emu.lifetimes.refresh_reuse_interval == timedelta(0)


async def test_the_old_access_token_works_for_ten_minutes_after_a_refresh_then_dies(
    flow: Flow,
) -> None:
    tokens = await flow.sign_in()

    rotated = (await flow.refresh(tokens["refresh_token"])).json()
    flow.emu.clock.advance(timedelta(minutes=9, seconds=59))
    within_grace = await flow.me(tokens["access_token"])
    flow.emu.clock.advance(timedelta(seconds=1))
    after_grace = await flow.me(tokens["access_token"])

    assert within_grace.status_code == 200
    assert after_grace.status_code == 401
    assert (await flow.me(rotated["access_token"])).status_code == 200


async def test_the_grace_of_the_old_access_token_is_configurable(flow: Flow) -> None:
    flow.emu.lifetimes.old_access_token_grace = timedelta(0)
    tokens = await flow.sign_in()

    await flow.refresh(tokens["refresh_token"])

    assert (await flow.me(tokens["access_token"])).status_code == 401
    assert AtlassianEmulator(old_access_token_grace=timedelta(minutes=2)).lifetimes == (
        replace(Lifetimes(), old_access_token_grace=timedelta(minutes=2))
    )


async def test_the_grace_never_outlives_the_old_tokens_own_expiry(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.clock.advance(timedelta(minutes=55))

    await flow.refresh(tokens["refresh_token"])
    flow.emu.clock.advance(timedelta(minutes=5))

    assert (await flow.me(tokens["access_token"])).status_code == 401


async def test_old_access_token_survives_refresh_when_option_off(flow: Flow) -> None:
    flow.emu.revoke_old_access_token_on_refresh = False
    tokens = await flow.sign_in()

    await flow.refresh(tokens["refresh_token"])

    assert (await flow.me(tokens["access_token"])).status_code == 200


async def test_refresh_keeps_the_granted_scope(flow: Flow) -> None:
    tokens = await flow.sign_in(scope="read:me offline_access")

    rotated = (await flow.refresh(tokens["refresh_token"])).json()

    assert rotated["scope"] == "read:me offline_access"
    assert rotated["expires_in"] == 3600
    assert rotated["token_type"] == "Bearer"


async def test_refresh_token_expires_after_90_days_unused(flow: Flow) -> None:
    tokens = await flow.sign_in()
    kept = (await flow.refresh(tokens["refresh_token"])).json()
    flow.emu.clock.advance(timedelta(days=89, hours=23))
    assert (await flow.refresh(kept["refresh_token"])).status_code == 200

    idle = (await flow.refresh((await flow.sign_in())["refresh_token"])).json()
    flow.emu.clock.advance(timedelta(days=90))
    response = await flow.refresh(idle["refresh_token"])

    assert response.status_code == 403
    assert response.json() == DEAD


async def test_grant_expires_after_365_days(flow: Flow) -> None:
    flow.emu.lifetimes.access_token = timedelta(days=400)
    refresh_token = (await flow.sign_in())["refresh_token"]
    for _ in range(4):
        flow.emu.clock.advance(timedelta(days=80))
        answer = await flow.refresh(refresh_token)
        assert answer.status_code == 200
        refresh_token = answer.json()["refresh_token"]
    access_token = answer.json()["access_token"]
    flow.emu.clock.advance(timedelta(days=45))

    response = await flow.refresh(refresh_token)

    assert response.status_code == 403
    assert response.json() == DEAD
    assert (await flow.me(access_token)).status_code == 401


async def test_unknown_refresh_token_is_invalid_grant(flow: Flow) -> None:
    response = await flow.refresh("made-up")

    assert response.status_code == 403
    assert response.json() == DEAD


async def test_refresh_token_of_another_client_is_invalid_grant(flow: Flow) -> None:
    other = EmulatedClient(client_id="other", client_secret="other-secret", name="Other")
    flow.emu.register_client(other)
    tokens = await flow.sign_in()

    response = await flow.refresh(tokens["refresh_token"], app=other)

    assert response.status_code == 403
    assert response.json() == DEAD


async def test_refresh_needs_the_client_secret(flow: Flow) -> None:
    tokens = await flow.sign_in()

    response = await flow.post_token(
        {
            "grant_type": "refresh_token",
            "client_id": flow.emu.default_client.client_id,
            "refresh_token": tokens["refresh_token"],
        }
    )

    assert response.status_code == 401
    assert response.json()["error"] == "access_denied"


async def test_revoke_grant_kills_all_tokens(flow: Flow) -> None:
    ada, grace = flow.emu.users
    first = await flow.sign_in(user=ada)
    second = await flow.sign_in(user=ada)
    graces = await flow.sign_in(user=grace)

    revoked = flow.emu.revoke_grant(ada.account_id)

    assert revoked == 1
    for tokens in (first, second):
        assert (await flow.me(tokens["access_token"])).status_code == 401
        assert (await flow.refresh(tokens["refresh_token"])).json() == DEAD
    assert (await flow.me(graces["access_token"])).status_code == 200


async def test_consent_after_revocation_starts_a_new_grant(flow: Flow) -> None:
    ada = flow.emu.users[0]
    await flow.sign_in(user=ada)
    flow.emu.revoke_grant(ada.account_id)

    tokens = await flow.sign_in(user=ada)

    assert (await flow.me(tokens["access_token"])).status_code == 200
    assert (await flow.refresh(tokens["refresh_token"])).status_code == 200
