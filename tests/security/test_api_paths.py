"""Paths cannot be smuggled: a person's input in a product API path stays one segment.

An app that puts what a person typed into a path of ``AtlassianClient`` must not let them add
query parameters (``?``), cut the path (``#``), climb out of it (``..``, ``%2e%2e``, a
backslash) or split the request (CR/LF). Values given in ``path_params=`` are percent-encoded
within their segment; a raw path that could be read two ways is refused with
``InvalidAPIPathError``, which the app answers as 400 ``invalid_request``, never 500.

The app under attack has two routes that call Jira with a value from the query: ``/raw`` pastes
it into the path (as a careless app would), ``/encoded`` passes it in ``path_params``. A
transport in front of the emulator records every request that reaches Atlassian.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kavach_fastapi import AtlassianAPI, InvalidAPIPathError
from kavach_fastapi.atlassian.paths import api_path
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import sign_in as sign_in_sync

from .conftest import build_app, error_code
from .jira_calls import jira_site, signed_in_with_sites

ISSUE = "/rest/api/3/issue"
API = "https://api.example"

HOSTILE_SEGMENTS = [
    "..",
    ".",
    "../..",
    "../../../../oauth/token",
    "KAV-1/../../../../me",
    "%2e%2e",
    "%2E%2E",
    "%2e%2e%2f%2e%2e%2fme",
    ".%2e",
    "%252e%252e",
    "..%2f..%2fme",
    "..%5c..%5cme",
    "\\..\\..\\me",
    "KAV-1?expand=changelog",
    "KAV-1?accountId=someone-else",
    "?",
    "KAV-1#",
    "KAV-1#/../../me",
    "#",
    "KAV-1%3Fexpand%3Dall",
    "KAV-1%23frag",
    "a//b",
    "/",
    "//evil.example/x",
    "KAV-1\r\nX-Injected: yes",
    "KAV-1\n",
    "\r\n\r\nGET / HTTP/1.1",
    "\x00",
    "%00",
    "\t",
    " ",
    "KAV 1",
    "é",
    "ＫＡＶ－１",  # noqa: RUF001 - full-width look-alikes on purpose
    "\u202ekav",
    "%",
    "%zz",
    "{key}",
    "{",
    "}",
    "",
    ";jsessionid=1",
    "@evil.example",
    ":443",
    "&",
    "=",
    "+",
    "'",
    '"',
    "<script>alert(1)</script>",
    "KAV-1",
    "KAV-1.json",
    "x" * 3000,
]
"""Values a person might put where an app expects an issue key."""

HOSTILE_PRODUCTS = ["jira/..", "jira\n", "../jira", "JIRA", "jira?x=1", "jira#", "", "j", "jíra"]


class RecordingAtlassian(httpx2.AsyncBaseTransport):
    """The emulator, behind a transport that keeps every request that reached it."""

    def __init__(self, emulator: AtlassianEmulator) -> None:
        self.inner = httpx2.ASGITransport(app=emulator.app)
        self.requests: list[httpx2.Request] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    def product_calls(self) -> list[httpx2.Request]:
        return [request for request in self.requests if request.url.path.startswith("/ex/")]


@pytest.fixture
def atlassian(emulator: AtlassianEmulator) -> RecordingAtlassian:
    return RecordingAtlassian(emulator)


def attacked_app(
    database: Path, emulator: AtlassianEmulator, atlassian: RecordingAtlassian
) -> FastAPI:
    app = build_app(database, emulator, http_transport=atlassian)

    @app.get("/raw/{cloud_id}")
    async def raw(cloud_id: str, value: str, api: AtlassianAPI) -> dict[str, int]:
        response = await api.get("jira", cloud_id, f"{ISSUE}/{value}")
        return {"jira": response.status_code}

    @app.get("/encoded/{cloud_id}")
    async def encoded(cloud_id: str, value: str, api: AtlassianAPI) -> dict[str, int]:
        response = await api.get("jira", cloud_id, ISSUE + "/{key}", path_params={"key": value})
        return {"jira": response.status_code}

    @app.get("/product/{cloud_id}")
    async def product(cloud_id: str, value: str, api: AtlassianAPI) -> dict[str, int]:
        response = await api.get(value, cloud_id, "/rest/api/3/myself")
        return {"jira": response.status_code}

    return app


@pytest.fixture
async def signed_in(
    database: Path, emulator: AtlassianEmulator, atlassian: RecordingAtlassian
) -> AsyncIterator[httpx2.AsyncClient]:
    app = attacked_app(database, emulator, atlassian)
    async with signed_in_with_sites(app, emulator) as client:
        yield client


def assert_refused(answer: httpx2.Response) -> None:
    assert answer.status_code == 400, answer.text
    assert error_code(answer) == "invalid_request"
    assert "<script>" not in answer.text  # the input is never echoed


def issue_key_sent(request: httpx2.Request, site: str, *, one_segment: bool = True) -> str:
    """What follows ``/ex/jira/{site}/rest/api/3/issue/``, decoded; no query, no climbing.

    A value pasted into a raw path may hold ``/`` and so add plain segments below the issue
    path (the app asked for that); a ``path_params`` value is always exactly one segment.
    """
    raw = request.url.raw_path.decode("ascii")
    assert "?" not in raw, raw
    assert "#" not in raw, raw
    prefix = f"/ex/jira/{site}{ISSUE}/"
    assert raw.startswith(prefix), raw
    rest = raw.removeprefix(prefix)
    segments = rest.split("/")
    assert all(segment not in ("", ".", "..") for segment in segments), raw
    if one_segment:
        assert len(segments) == 1, raw
    return unquote(rest)


async def send_each_hostile_segment(
    signed_in: httpx2.AsyncClient, atlassian: RecordingAtlassian, route: str
) -> list[tuple[str, httpx2.Response, list[httpx2.Request]]]:
    """Ask ``route`` with each hostile ``value``: the value, the answer, what reached Jira."""
    results = []
    for value in HOSTILE_SEGMENTS:
        before = len(atlassian.product_calls())
        answer = await signed_in.get(route, params={"value": value})
        results.append((value, answer, atlassian.product_calls()[before:]))
    return results


async def test_a_hostile_value_pasted_into_a_path_is_refused_or_sent_as_typed_below_its_path(
    signed_in: httpx2.AsyncClient, emulator: AtlassianEmulator, atlassian: RecordingAtlassian
) -> None:
    site = jira_site(emulator)
    for value, answer, sent in await send_each_hostile_segment(
        signed_in, atlassian, f"/raw/{site}"
    ):
        if answer.status_code == 400:
            assert_refused(answer)
            assert sent == [], value
        else:
            assert answer.status_code == 200, (value, answer.text)
            (request,) = sent
            # Sent as typed, since it was plain; never above the issue path.
            assert issue_key_sent(request, site, one_segment=False) == value


async def test_a_hostile_value_in_path_params_is_sent_as_one_segment_holding_exactly_it(
    signed_in: httpx2.AsyncClient, emulator: AtlassianEmulator, atlassian: RecordingAtlassian
) -> None:
    site = jira_site(emulator)
    sending = send_each_hostile_segment(signed_in, atlassian, f"/encoded/{site}")
    for value, answer, sent in await sending:
        if value in ("", ".", ".."):
            assert_refused(answer)  # a segment that means "here" or "up" cannot be data
            assert sent == []
            continue
        assert answer.status_code == 200, (value, answer.text)
        (request,) = sent
        assert issue_key_sent(request, site) == value
        assert request.url.params == httpx2.QueryParams()


async def test_a_hostile_product_name_is_refused_before_anything_is_sent(
    signed_in: httpx2.AsyncClient, emulator: AtlassianEmulator, atlassian: RecordingAtlassian
) -> None:
    site = jira_site(emulator)
    for value in HOSTILE_PRODUCTS:
        answer = await signed_in.get(f"/product/{site}", params={"value": value})

        assert_refused(answer)
    assert atlassian.product_calls() == []


# Any text at all, through the app


@pytest.fixture
def sync_client(
    database: Path, emulator: AtlassianEmulator, atlassian: RecordingAtlassian
) -> Iterator[TestClient]:
    with TestClient(attacked_app(database, emulator, atlassian)) as client:
        sign_in_sync(client, emulator)
        yield client


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
@example(value="..")
@example(value="%2e%2e/me?x=1#y")
@example(value="0/0")
def test_no_text_in_a_path_ever_makes_a_500_or_reaches_another_path(
    sync_client: TestClient,
    emulator: AtlassianEmulator,
    atlassian: RecordingAtlassian,
    value: str,
) -> None:
    site = jira_site(emulator)
    for route in ("raw", "encoded"):
        before = len(atlassian.product_calls())

        answer = sync_client.get(f"/{route}/{site}", params={"value": value})

        assert answer.status_code in (200, 400), (route, value, answer.text)
        for request in atlassian.product_calls()[before:]:
            assert issue_key_sent(request, site, one_segment=route == "encoded") == value


# The path builder itself


@given(value=st.text())
@example(value="\ud800")
def test_a_path_params_value_is_refused_or_encoded_into_exactly_one_segment(value: str) -> None:
    try:
        path = api_path(ISSUE + "/{key}/comment", {"key": value})
    except InvalidAPIPathError:
        assert value in ("", ".", "..") or any("\ud800" <= char <= "\udfff" for char in value)
        return
    segments = path.split("/")
    assert segments[:5] == ["", "rest", "api", "3", "issue"]
    assert segments[6:] == ["comment"]
    assert unquote(segments[5]) == value
    assert path.isascii()
    assert path.isprintable()
    assert not set(path) & set("?#\\ ")
    assert httpx2.URL(f"{API}/ex/jira/site{path}").raw_path == f"/ex/jira/site{path}".encode()


@given(raw=st.text())
@example(raw="a/../b")
@example(raw="%2e%2e")
def test_a_raw_path_is_refused_unless_every_segment_is_plain(raw: str) -> None:
    template = f"{ISSUE}/{raw}"
    try:
        path = api_path(template)
    except InvalidAPIPathError:
        return
    assert path == template
    assert path.isascii()
    assert path.isprintable()
    assert not set(path) & set("?#%\\ {}")
    assert not {".", ".."} & set(path.split("/"))
    assert "//" not in path
    assert not path.endswith("/")
    assert httpx2.URL(f"{API}/ex/jira/site{path}").raw_path == f"/ex/jira/site{path}".encode()


@pytest.mark.parametrize(
    ("template", "params"),
    [
        (ISSUE + "/{key}", {}),
        (ISSUE + "/{key}", {"key": "KAV-1", "other": "x"}),
        (ISSUE + "/{key}", {"key": True}),
        (ISSUE + "/{key}", {"key": None}),
        ("rest/api/3/myself", {}),
    ],
    ids=["missing-value", "unused-value", "bool", "none", "relative"],
)
def test_a_template_and_values_that_do_not_fit_are_refused(
    template: str, params: dict[str, object]
) -> None:
    with pytest.raises(InvalidAPIPathError):
        api_path(template, params)  # type: ignore[arg-type]


def test_integers_and_several_placeholders_fill_their_own_segments() -> None:
    path = api_path(
        "/wiki/api/v2/pages/{id}/footer-comments/{comment}", {"id": 42, "comment": "a/b"}
    )
    assert path == "/wiki/api/v2/pages/42/footer-comments/a%2Fb"
