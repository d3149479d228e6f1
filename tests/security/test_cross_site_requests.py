"""CSRF on the state-changing endpoints: sign-out and disconnect.

A page on another site can make the victim's browser send a POST or DELETE with the victim's
cookies (SameSite=Lax stops most, not all: same-site sibling subdomains, older browsers). Browsers
say where a request comes from in ``Origin`` and ``Sec-Fetch-Site``; any sign of another site is
refused with 403 and nothing changes. Both endpoints are unreachable by GET, which any ``<img>``
could send.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from kavach_fastapi.emulator import AtlassianEmulator

from .conftest import (
    DISCONNECT,
    EVIL,
    SESSION,
    SIGN_OUT,
    browser,
    build_app,
    error_code,
    running,
    served_over_https,
    session_cookie,
    sign_in,
    snapshot,
)

CROSS_SITE = {
    "other-origin": {"Origin": f"https://{EVIL}"},
    "null-origin": {"Origin": "null"},
    "own-host-other-scheme": {"Origin": "https://testserver"},
    "own-host-other-port": {"Origin": "http://testserver:8080"},
    "own-host-as-subdomain": {"Origin": f"http://testserver.{EVIL}"},
    "sibling-subdomain": {"Origin": "http://evil.testserver"},
    "sec-fetch-site-cross-site": {"Sec-Fetch-Site": "cross-site"},
    "sec-fetch-site-same-site": {"Sec-Fetch-Site": "same-site"},
    "origin-wins-over-sec-fetch-site": {"Origin": f"https://{EVIL}", "Sec-Fetch-Site": "none"},
    "form-post-from-another-site": {
        "Origin": f"https://{EVIL}",
        "Sec-Fetch-Site": "cross-site",
        "Content-Type": "application/x-www-form-urlencoded",
    },
}


@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
async def test_a_cross_site_sign_out_or_disconnect_is_refused_and_changes_nothing(
    victim: httpx2.AsyncClient,
    emulator: AtlassianEmulator,
    database: Path,
    headers: dict[str, str],
) -> None:
    await sign_in(victim, emulator)
    token = session_cookie(victim)
    before = snapshot(database)

    refused = await victim.post(SIGN_OUT, headers=headers)
    redirected = await victim.post(
        SIGN_OUT, params={"redirect_to": f"https://{EVIL}/"}, headers=headers
    )
    disconnect = await victim.delete(DISCONNECT, headers=headers)

    for response in (refused, redirected, disconnect):
        assert response.status_code == 403
        assert error_code(response) == "cross_site_request"
        assert "set-cookie" not in response.headers
    assert snapshot(database) == before
    assert session_cookie(victim) == token
    assert (await victim.get(SESSION)).status_code == 200
    assert (await victim.get("/sites")).status_code == 200  # still connected


async def test_a_same_origin_sign_out_works(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path
) -> None:
    """The control: the site's own page (or an API client, which sends no Origin) signs out."""
    await sign_in(victim, emulator)

    response = await victim.post(
        SIGN_OUT, headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    )

    assert response.status_code == 200
    assert (await victim.get(SESSION)).status_code == 401
    assert snapshot(database)["kavach_sessions"] == []


WRONG_METHODS = {
    "sign-out": (SIGN_OUT, ("GET", "HEAD", "PUT", "DELETE")),
    "disconnect": (DISCONNECT, ("GET", "HEAD", "POST")),
}


@pytest.mark.parametrize(
    ("path", "method"),
    [
        pytest.param(path, method, id=f"{name}-{method}")
        for name, (path, methods) in WRONG_METHODS.items()
        for method in methods
    ],
)
async def test_sign_out_or_disconnect_by_another_method_is_refused(
    victim: httpx2.AsyncClient, emulator: AtlassianEmulator, database: Path, path: str, method: str
) -> None:
    await sign_in(victim, emulator)
    before = snapshot(database)

    response = await victim.request(method, path, params={"redirect_to": "/"})

    assert response.status_code == 405
    assert (await victim.get(SESSION)).status_code == 200
    assert snapshot(database) == before


async def test_with_base_url_a_forged_host_does_not_make_a_cross_site_sign_out_same_origin(
    emulator: AtlassianEmulator, database: Path
) -> None:
    async with served_over_https(database, emulator) as (_app, client):
        await sign_in(client, emulator)
        before = snapshot(database)

        response = await client.post(SIGN_OUT, headers={"Host": EVIL, "Origin": f"https://{EVIL}"})

        assert response.status_code == 403
        assert (await client.get(SESSION)).status_code == 200
    assert snapshot(database) == before


REDIRECT_TARGET = "https://reports.example"
"""An origin in ``KAVACH_TRUSTED_ORIGINS``: people may land there after signing in or out."""

FRONT_END = "https://www.example"
"""An origin in ``KAVACH_CSRF_TRUSTED_ORIGINS``: its pages may sign out and disconnect."""


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": REDIRECT_TARGET, "Sec-Fetch-Site": "cross-site"},
        {"Origin": REDIRECT_TARGET},
    ],
    ids=["fetch", "origin-only"],
)
async def test_a_page_on_a_trusted_redirect_origin_cannot_sign_out_or_disconnect(
    emulator: AtlassianEmulator, database: Path, headers: dict[str, str]
) -> None:
    """``KAVACH_TRUSTED_ORIGINS`` says where people may land, not who may act for them."""
    app = build_app(database, emulator, trusted_origins=[REDIRECT_TARGET])
    async with running(app), browser(app) as client:
        await sign_in(client, emulator, redirect_to=f"{REDIRECT_TARGET}/after")
        before = snapshot(database)

        disconnect = await client.delete(DISCONNECT, headers=headers)
        sign_out = await client.post(SIGN_OUT, headers=headers)

        for response in (disconnect, sign_out):
            assert response.status_code == 403
            assert error_code(response) == "cross_site_request"
            assert "set-cookie" not in response.headers
        assert snapshot(database) == before
        assert (await client.get(SESSION)).status_code == 200
        assert (await client.get("/sites")).status_code == 200, "the tokens are still there"


async def test_a_page_on_a_csrf_trusted_origin_can_disconnect_and_sign_out(
    emulator: AtlassianEmulator, database: Path
) -> None:
    app = build_app(database, emulator, csrf_trusted_origins=[FRONT_END])
    headers = {"Origin": FRONT_END, "Sec-Fetch-Site": "same-site"}
    async with running(app), browser(app) as client:
        await sign_in(client, emulator)

        disconnect = await client.delete(DISCONNECT, headers=headers)
        sign_out = await client.post(SIGN_OUT, headers=headers)

        assert disconnect.status_code == 200
        assert disconnect.json()["disconnected"] is True
        assert sign_out.status_code == 200
        assert (await client.get(SESSION)).status_code == 401
    assert snapshot(database)["kavach_sessions"] == []


async def test_kavach_csrf_trusted_origins_is_read_from_the_environment(
    emulator: AtlassianEmulator, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAVACH_CSRF_TRUSTED_ORIGINS", f"{FRONT_END}/, https://admin.example")
    app = build_app(database, emulator)
    async with running(app), browser(app) as client:
        await sign_in(client, emulator)

        elsewhere = await client.post(SIGN_OUT, headers={"Origin": f"https://{EVIL}"})
        front_end = await client.post(SIGN_OUT, headers={"Origin": FRONT_END})

    assert elsewhere.status_code == 403
    assert front_end.status_code == 200


async def test_a_csrf_trusted_origin_is_not_a_redirect_target(
    emulator: AtlassianEmulator, database: Path
) -> None:
    """The two settings stay apart both ways: acting from an origin is not landing on it."""
    app = build_app(database, emulator, csrf_trusted_origins=[FRONT_END])
    async with running(app), browser(app) as client:
        await sign_in(client, emulator)

        response = await client.post(
            SIGN_OUT, params={"redirect_to": f"{FRONT_END}/bye"}, headers={"Origin": FRONT_END}
        )

    assert response.status_code == 303
    assert response.headers["location"] == "/"
