"""POST /oauth/token with grant_type=authorization_code, and client authentication."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from kavach_fastapi.emulator import EmulatedClient

from .flow import SCOPES, Flow


async def test_code_exchange_returns_bearer_tokens_without_id_token(flow: Flow) -> None:
    code = await flow.code()

    response = await flow.exchange(code)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"].split() == SCOPES.split()
    assert "id_token" not in body


async def test_token_responses_are_not_cacheable(flow: Flow) -> None:
    response = await flow.exchange(await flow.code())

    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
async def test_json_and_form_token_bodies(flow: Flow, as_json: bool) -> None:
    code = await flow.code()

    exchanged = await flow.exchange(code, as_json=as_json)
    refreshed = await flow.post_token(
        {
            "grant_type": "refresh_token",
            "client_id": flow.emu.default_client.client_id,
            "client_secret": flow.emu.default_client.client_secret,
            "refresh_token": exchanged.json()["refresh_token"],
        },
        as_json=as_json,
    )

    assert exchanged.status_code == 200
    assert refreshed.status_code == 200
    assert flow.emu.last_request["token"].form["grant_type"] == "refresh_token"


async def test_unreadable_body_is_invalid_request(flow: Flow) -> None:
    response = await flow.client.post(
        "/oauth/token", content=b"[1, 2]", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_missing_client_secret_is_401_access_denied(flow: Flow) -> None:
    code = await flow.code()

    response = await flow.exchange(code, client_secret=None)

    assert response.status_code == 401
    assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}


async def test_wrong_client_secret_is_401_access_denied(flow: Flow) -> None:
    response = await flow.exchange(await flow.code(), client_secret="guess")

    assert response.status_code == 401
    assert response.json() == {"error": "access_denied", "error_description": "Unauthorized"}


async def test_unknown_client_is_401_access_denied(flow: Flow) -> None:
    response = await flow.exchange(await flow.code(), client_id="nobody")

    assert response.status_code == 401
    assert response.json()["error"] == "access_denied"


async def test_pkce_never_replaces_the_client_secret(flow: Flow) -> None:
    code = await flow.code()

    response = await flow.exchange(code, client_secret=None)
    retried = await flow.exchange(code)

    assert response.status_code == 401
    assert retried.status_code == 200


async def test_basic_client_authentication_is_not_accepted(flow: Flow) -> None:
    app = flow.emu.default_client
    basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()

    response = await flow.client.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": await flow.code(),
            "redirect_uri": app.redirect_uris[0],
        },
        headers={"Authorization": f"Basic {basic}"},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "access_denied"


async def test_code_is_single_use(flow: Flow) -> None:
    code = await flow.code()

    first = await flow.exchange(code)
    second = await flow.exchange(code)

    assert first.status_code == 200
    assert second.status_code == 403
    assert second.json()["error"] == "invalid_grant"


async def test_reused_code_revokes_tokens_issued_from_it(flow: Flow) -> None:
    code = await flow.code()
    tokens = (await flow.exchange(code)).json()

    await flow.exchange(code)

    assert (await flow.me(tokens["access_token"])).status_code == 401
    assert (await flow.refresh(tokens["refresh_token"])).status_code == 403


async def test_code_expires_after_ten_minutes(flow: Flow) -> None:
    fresh, stale = await flow.code(), await flow.code()
    flow.emu.clock.advance(timedelta(minutes=9, seconds=59))
    assert (await flow.exchange(fresh)).status_code == 200

    flow.emu.clock.advance(timedelta(seconds=1))
    response = await flow.exchange(stale)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


async def test_code_requires_the_same_redirect_uri(flow: Flow) -> None:
    code = await flow.code()
    other = flow.emu.default_client.redirect_uris[1]

    mismatched = await flow.exchange(code, redirect_uri=other)
    missing = await flow.exchange(code, redirect_uri=None)

    assert mismatched.status_code == 403
    assert mismatched.json()["error"] == "invalid_grant"
    assert missing.status_code == 403


async def test_code_is_bound_to_the_client_it_was_issued_to(flow: Flow) -> None:
    other = EmulatedClient(
        client_id="other-app",
        client_secret="other-secret",
        redirect_uris=list(flow.emu.default_client.redirect_uris),
        name="Other app",
    )
    flow.emu.register_client(other)
    code = await flow.code()

    response = await flow.exchange(code, app=other)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


async def test_pkce_verifier_mismatch_is_invalid_grant(flow: Flow) -> None:
    code = await flow.code()

    response = await flow.exchange(code, code_verifier="not-the-verifier-" + "x" * 40)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


async def test_pkce_verifier_is_required_when_a_challenge_was_sent(flow: Flow) -> None:
    response = await flow.exchange(await flow.code(), code_verifier=None)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


async def test_a_verifier_for_a_code_issued_without_a_challenge_is_invalid_grant(
    flow: Flow,
) -> None:
    code = await flow.code(code_challenge=None, code_challenge_method=None)

    response = await flow.exchange(code)  # the flow always sends its verifier

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"
    assert "without a code_challenge" in response.json()["error_description"]


async def test_a_code_issued_without_a_challenge_is_redeemed_without_a_verifier(
    flow: Flow,
) -> None:
    code = await flow.code(code_challenge=None, code_challenge_method=None)

    response = await flow.exchange(code, code_verifier=None)

    assert response.status_code == 200
    assert response.json()["access_token"]


async def test_unknown_code_is_invalid_grant(flow: Flow) -> None:
    response = await flow.exchange("made-up")

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_grant"


async def test_refresh_without_offline_access_no_refresh_token(flow: Flow) -> None:
    tokens = await flow.sign_in(scope="read:me read:jira-user")

    assert "refresh_token" not in tokens
    assert tokens["scope"] == "read:me read:jira-user"


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", ""])
async def test_unsupported_grant_type_is_400(flow: Flow, grant_type: str) -> None:
    app = flow.emu.default_client
    response = await flow.post_token(
        {"grant_type": grant_type, "client_id": app.client_id, "client_secret": app.client_secret}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_access_token_lifetime_is_configurable(flow: Flow) -> None:
    flow.emu.lifetimes.access_token = timedelta(minutes=5)

    tokens = await flow.sign_in()

    assert tokens["expires_in"] == 300


async def test_access_token_expires(flow: Flow) -> None:
    tokens = await flow.sign_in()
    flow.emu.clock.advance(timedelta(minutes=59))
    assert (await flow.me(tokens["access_token"])).status_code == 200

    flow.emu.clock.advance(timedelta(minutes=1))

    assert (await flow.me(tokens["access_token"])).status_code == 401
