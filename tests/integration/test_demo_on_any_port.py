"""The demo signs in on whatever host and port it is served from, not only on port 8000.

The example app runs as ``uvicorn example_app.main:app`` on a free port, with nothing set
but a database of its own: no ``KAVACH_DEMO_URL``, no callback URL registered by the test.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from .served_apps import REPO, ServedApp, clean_environment, serve_with_uvicorn, sign_in_over_http

AUTHORIZE = "/api/kavach/auth/oauth/authorize/atlassian?redirect_to=/"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ServedApp]:
    env = clean_environment(
        KAVACH_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}",
        PYTHONPATH=str(REPO),
    )
    command = [sys.executable, "-W", "error", "-m", "uvicorn", "example_app.main:app"]
    with serve_with_uvicorn(command, env=env, cwd=tmp_path, ready_path="/") as served:
        yield served
        assert "Traceback" not in served.log(), served.log()


@pytest.fixture
def browser() -> Iterator[httpx2.Client]:
    with httpx2.Client(trust_env=False, follow_redirects=False, timeout=10.0) as client:
        yield client


def test_signing_in_sends_the_browser_to_the_emulator_on_the_served_port(
    demo: ServedApp, browser: httpx2.Client
) -> None:
    started = browser.get(f"{demo.url}{AUTHORIZE}")

    consent = started.headers["location"]
    assert consent.startswith(f"{demo.url}/_emulator/authorize?")
    redirect_uri = parse_qs(urlsplit(consent).query)["redirect_uri"]
    assert redirect_uri == [f"{demo.url}/api/kavach/auth/oauth/callback/atlassian"]
    assert browser.get(consent).status_code == 200


def test_a_demo_on_another_port_signs_in_and_lands_signed_in(
    demo: ServedApp, browser: httpx2.Client
) -> None:
    landing = sign_in_over_http(browser, f"{demo.url}{AUTHORIZE}")

    assert landing.status_code == 200
    assert str(landing.url) == f"{demo.url}/"
    me = browser.get(f"{demo.url}/api/me")
    assert me.status_code == 200
    assert me.json()["name"] == "Ada Lovelace"


def test_the_pictures_of_a_signed_in_person_load_from_the_served_origin(
    demo: ServedApp, browser: httpx2.Client
) -> None:
    sign_in_over_http(browser, f"{demo.url}{AUTHORIZE}")

    picture = browser.get(f"{demo.url}/api/me").json()["image"]
    sites = browser.get(f"{demo.url}/api/sites").json()

    for url in [picture, *(site["avatar_url"] for site in sites)]:
        assert url.startswith(f"{demo.url}/_emulator/"), url
        assert browser.get(url).status_code == 200


def test_the_demo_calls_jira_on_a_jira_site_and_answers_502_for_a_site_without_jira(
    demo: ServedApp, browser: httpx2.Client
) -> None:
    sign_in_over_http(browser, f"{demo.url}{AUTHORIZE}")
    sites = browser.get(f"{demo.url}/api/sites").json()
    jira = next(site for site in sites if "jira" in site["products"])
    other = next(site for site in sites if "jira" not in site["products"])

    myself = browser.get(f"{demo.url}/api/jira/{jira['id']}/myself")
    refused = browser.get(f"{demo.url}/api/jira/{other['id']}/myself")

    assert myself.status_code == 200
    assert myself.json()["displayName"] == "Ada Lovelace"
    # Jira's refusal is not the person's: a 401 here would read as "not signed in".
    assert refused.status_code == 502
    assert "Jira answered" in refused.json()["detail"]


def test_make_demo_serves_on_the_port_and_host_it_is_given() -> None:
    plan = subprocess.run(
        ["make", "-n", "demo", "PORT=8011", "HOST=0.0.0.0"],  # noqa: S607 - make from PATH
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert "uvicorn example_app.main:app --host 0.0.0.0 --port 8011" in plan
