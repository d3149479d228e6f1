"""The OAuth client over a mock transport: consent URL, code exchange, profile, every failure."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from _pytest.mark import ParameterSet

from kavach_fastapi.errors import ErrorCode, ProviderError
from kavach_fastapi.oauth import OAuthClient, SharedTransport, TokenSet, new_code_verifier
from kavach_fastapi.providers import atlassian_provider

CLIENT_ID = "client-id-123"
CLIENT_SECRET = "client-secret-SECRET-9f8e7d"
ACCESS_TOKEN = "access-token-SECRET-a1b2c3"
REFRESH_TOKEN = "refresh-token-SECRET-d4e5f6"
CODE = "authorization-code-SECRET-778899"
REDIRECT_URI = "https://app.example/api/kavach/auth/oauth/callback/atlassian"
SECRETS = (CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, CODE)

Responder = Callable[[httpx2.Request], httpx2.Response]
Call = Callable[[OAuthClient], Awaitable[object]]


class Recorder:
    """A mock transport handler that remembers every request it saw."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.respond(request)


def token_answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "access_token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
            "expires_in": 3600,
            "scope": "read:me offline_access read:jira-user",
            "token_type": "Bearer",
        },
    )


def client_for(
    respond: Responder, *, use_pkce: bool = True, timeout: float = 10.0
) -> tuple[OAuthClient, Recorder]:
    recorder = Recorder(respond)
    provider = atlassian_provider(
        CLIENT_ID,
        CLIENT_SECRET,
        auth_url="https://auth.test",
        api_url="https://api.test",
        use_pkce=use_pkce,
    )
    transport = SharedTransport(httpx2.MockTransport(recorder))
    return OAuthClient(provider, transport=transport, timeout=timeout), recorder


@pytest.fixture(autouse=True)
def no_secret_is_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test here also proves that no log record, at any level, carries a secret."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.get_records("call"):
        text = record.getMessage()
        for secret in SECRETS:
            assert secret not in text, f"{record.name} logged a secret: {text!r}"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def form_of(request: httpx2.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def raise_error(error: type[httpx2.TransportError]) -> Responder:
    def respond(request: httpx2.Request) -> httpx2.Response:
        raise error("simulated", request=request)

    return respond


def answer(status: int, **kwargs: object) -> Responder:
    def respond(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, **kwargs)  # type: ignore[arg-type]

    return respond


# --- the consent URL -----------------------------------------------------------------------


def test_authorization_url_carries_every_parameter_of_the_code_flow() -> None:
    client, _ = client_for(token_answer)
    verifier = new_code_verifier()
    url = client.authorization_url(
        redirect_uri=REDIRECT_URI, state="state-1", code_verifier=verifier
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.test/authorize"
    assert query_of(url) == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": [REDIRECT_URI],
        "scope": ["read:me offline_access"],
        "state": ["state-1"],
        "audience": ["api.atlassian.com"],
        "prompt": ["consent"],
        "code_challenge": [s256(verifier)],
        "code_challenge_method": ["S256"],
    }


def test_authorization_url_never_carries_the_secret_or_the_verifier() -> None:
    client, recorder = client_for(token_answer)
    verifier = new_code_verifier()
    url = client.authorization_url(redirect_uri=REDIRECT_URI, state="s", code_verifier=verifier)
    assert CLIENT_SECRET not in url
    assert verifier not in url
    assert recorder.requests == []


def test_authorization_url_without_pkce_has_no_challenge() -> None:
    client, _ = client_for(token_answer, use_pkce=False)
    url = client.authorization_url(
        redirect_uri=REDIRECT_URI, state="state-1", code_verifier=new_code_verifier()
    )
    query = query_of(url)
    assert "code_challenge" not in query
    assert "code_challenge_method" not in query
    assert query["state"] == ["state-1"]


def test_pkce_challenge_is_the_s256_of_the_verifier_for_a_known_vector() -> None:
    # RFC 7636, appendix B.
    client, _ = client_for(token_answer)
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    url = client.authorization_url(redirect_uri=REDIRECT_URI, state="s", code_verifier=verifier)
    assert query_of(url)["code_challenge"] == ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"]


def test_code_verifier_is_64_unreserved_characters_and_fresh_each_time() -> None:
    verifiers = {new_code_verifier() for _ in range(100)}
    assert len(verifiers) == 100
    for verifier in verifiers:
        assert re.fullmatch(r"[A-Za-z0-9._~-]{64}", verifier)


# --- the code exchange ---------------------------------------------------------------------


async def test_exchange_code_posts_a_client_secret_post_form() -> None:
    client, recorder = client_for(token_answer)
    verifier = new_code_verifier()
    await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://auth.test/oauth/token"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "authorization" not in request.headers
    assert form_of(request) == {
        "grant_type": ["authorization_code"],
        "code": [CODE],
        "redirect_uri": [REDIRECT_URI],
        "code_verifier": [verifier],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
    }


async def test_exchange_code_without_a_verifier_sends_none() -> None:
    client, recorder = client_for(token_answer, use_pkce=False)
    await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    (request,) = recorder.requests
    assert "code_verifier" not in form_of(request)


async def test_exchange_code_sets_timeouts_on_the_request() -> None:
    client, recorder = client_for(token_answer, timeout=7.0)
    await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    (request,) = recorder.requests
    timeout = request.extensions["timeout"]
    assert timeout["read"] == 7.0
    assert timeout["connect"] == 5.0


async def test_exchange_code_returns_the_token_set() -> None:
    client, _ = client_for(token_answer)
    before = datetime.now(timezone.utc)
    tokens = await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    after = datetime.now(timezone.utc)
    assert tokens.access_token == ACCESS_TOKEN
    assert tokens.refresh_token == REFRESH_TOKEN
    assert tokens.scopes == ("read:me", "offline_access", "read:jira-user")
    assert tokens.expires_at is not None
    assert before + timedelta(seconds=3600) <= tokens.expires_at <= after + timedelta(seconds=3600)


async def test_token_answer_without_refresh_token_or_expiry_or_scope() -> None:
    client, _ = client_for(answer(200, json={"access_token": ACCESS_TOKEN, "token_type": "Bearer"}))
    tokens = await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    assert tokens.access_token == ACCESS_TOKEN
    assert tokens.refresh_token is None
    assert tokens.expires_at is None
    assert tokens.scopes == ()


async def test_empty_refresh_token_counts_as_absent() -> None:
    client, _ = client_for(
        answer(200, json={"access_token": ACCESS_TOKEN, "refresh_token": "", "expires_in": 60})
    )
    tokens = await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    assert tokens.refresh_token is None


def exchange_the_code(client: OAuthClient) -> Awaitable[object]:
    return client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)


def fetch_the_profile(client: OAuthClient) -> Awaitable[object]:
    return client.fetch_profile(ACCESS_TOKEN)


UNREACHABLE_TOKEN_ENDPOINT = {
    "read-timeout": raise_error(httpx2.ReadTimeout),
    "connect-timeout": raise_error(httpx2.ConnectTimeout),
    "connect": raise_error(httpx2.ConnectError),
    "protocol": raise_error(httpx2.RemoteProtocolError),
}
REFUSED_EXCHANGES = {
    "400-invalid-grant": answer(
        400, json={"error": "invalid_grant", "error_description": f"bad {CODE}"}
    ),
    "401-invalid-client": answer(401, json={"error": "invalid_client"}),
    "403": answer(403, json={"error": "unauthorized_client"}),
    "400-text": answer(400, text="Bad Request"),
    "500": answer(500, text="boom"),
    "503-json": answer(503, json={"error": "temporarily_unavailable"}),
    "200-not-json": answer(200, text="<html>login</html>"),
    "200-without-access-token": answer(200, json={"token_type": "Bearer", "expires_in": 3600}),
    "200-empty-access-token": answer(200, json={"access_token": "", "token_type": "Bearer"}),
    "200-numeric-access-token": answer(200, json={"access_token": 12345, "token_type": "Bearer"}),
    "200-error-body": answer(200, json={"error": "invalid_grant"}),
    "200-json-list": answer(200, json=[1, 2]),
}


async def test_redirect_from_the_token_endpoint_is_not_followed() -> None:
    client, recorder = client_for(
        answer(302, headers={"Location": "https://evil.test/steal"}),
    )
    with pytest.raises(ProviderError) as caught:
        await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    assert caught.value.code is ErrorCode.TOKEN_EXCHANGE_FAILED
    assert [str(r.url) for r in recorder.requests] == ["https://auth.test/oauth/token"]


async def test_failure_is_logged_as_a_warning_without_the_provider_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = client_for(
        answer(400, json={"error": "invalid_grant", "error_description": f"code {CODE} is bad"})
    )
    with pytest.raises(ProviderError):
        await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    warnings = [
        r.getMessage()
        for r in caplog.get_records("call")
        if r.name == "kavach_fastapi" and r.levelno == logging.WARNING
    ]
    (warning,) = warnings
    assert "Atlassian" in warning
    assert "invalid_grant" in warning
    assert "is bad" not in warning


async def test_timeout_names_the_provider_in_the_message() -> None:
    client, _ = client_for(raise_error(httpx2.ReadTimeout))
    with pytest.raises(ProviderError, match="Atlassian did not answer in time"):
        await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)


# --- the profile ---------------------------------------------------------------------------


def profile_answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json={"account_id": "712020:abc", "email": "ada@example.com"})


async def test_fetch_profile_sends_the_bearer_token_and_returns_the_json() -> None:
    client, recorder = client_for(profile_answer)
    data = await client.fetch_profile(ACCESS_TOKEN)
    assert data == {"account_id": "712020:abc", "email": "ada@example.com"}
    (request,) = recorder.requests
    assert request.method == "GET"
    assert str(request.url) == "https://api.test/me"
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["accept"] == "application/json"
    assert ACCESS_TOKEN not in str(request.url)


UNREACHABLE_PROFILE_ENDPOINT = {
    "timeout": raise_error(httpx2.ReadTimeout),
    "connect": raise_error(httpx2.ConnectError),
}
REFUSED_PROFILES = {
    "401": answer(401, json={"code": 401, "message": "Unauthorized"}),
    "403": answer(403, text="Forbidden"),
    "404": answer(404, text="Not Found"),
    "500": answer(500, text="boom"),
    "200-not-json": answer(200, text="<html>"),
    "302-not-followed": answer(302, headers={"Location": "https://evil.test/me"}),
}


def failures(
    call: Call,
    unreachable: dict[str, Responder],
    refused_code: ErrorCode,
    refused: dict[str, Responder],
) -> list[ParameterSet]:
    """A case per responder: unreachable ends in PROVIDER_UNAVAILABLE, refused in ``refused_code``."""
    cases = [
        (name, respond, ErrorCode.PROVIDER_UNAVAILABLE) for name, respond in unreachable.items()
    ]
    cases += [(name, respond, refused_code) for name, respond in refused.items()]
    return [
        pytest.param(call, respond, code, id=f"{call.__name__}-{name}")
        for name, respond, code in cases
    ]


PROVIDER_FAILURES = failures(
    exchange_the_code,
    UNREACHABLE_TOKEN_ENDPOINT,
    ErrorCode.TOKEN_EXCHANGE_FAILED,
    REFUSED_EXCHANGES,
) + failures(
    fetch_the_profile,
    UNREACHABLE_PROFILE_ENDPOINT,
    ErrorCode.PROFILE_FETCH_FAILED,
    REFUSED_PROFILES,
)


@pytest.mark.parametrize(("call", "respond", "code"), PROVIDER_FAILURES)
async def test_every_failure_of_the_token_or_profile_endpoint_becomes_a_provider_error(
    call: Call, respond: Responder, code: ErrorCode
) -> None:
    client, recorder = client_for(respond)
    with pytest.raises(ProviderError) as caught:
        await call(client)
    assert caught.value.code is code
    assert caught.value.status_code == code.status
    assert len(recorder.requests) == 1
    # The translation hides the original exception and never quotes the provider.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    for secret in SECRETS:
        assert secret not in caught.value.message


async def test_get_json_reports_the_failure_code_it_is_given() -> None:
    client, _ = client_for(answer(500, text="boom"))
    with pytest.raises(ProviderError) as caught:
        await client.get_json(
            "https://api.test/oauth/token/accessible-resources",
            access_token=ACCESS_TOKEN,
            failure=ErrorCode.PROVIDER_ERROR,
        )
    assert caught.value.code is ErrorCode.PROVIDER_ERROR


# --- tokens and transport ------------------------------------------------------------------


def test_token_set_repr_never_shows_the_tokens() -> None:
    tokens = TokenSet(
        access_token=ACCESS_TOKEN,
        refresh_token=REFRESH_TOKEN,
        expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc),
        scopes=("read:me",),
    )
    for text in (repr(tokens), str(tokens), f"{tokens}", repr([tokens])):
        assert ACCESS_TOKEN not in text
        assert REFRESH_TOKEN not in text
    assert "read:me" in repr(tokens)


async def test_exchanged_token_set_repr_never_shows_the_tokens() -> None:
    client, _ = client_for(token_answer)
    tokens = await client.exchange_code(code=CODE, redirect_uri=REDIRECT_URI, code_verifier=None)
    assert ACCESS_TOKEN not in repr(tokens)
    assert REFRESH_TOKEN not in repr(tokens)


class ClosableTransport(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self.closed = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return profile_answer(request)

    async def aclose(self) -> None:
        self.closed = True


async def test_shared_transport_outlives_the_clients_that_borrow_it() -> None:
    inner = ClosableTransport()
    provider = atlassian_provider(CLIENT_ID, CLIENT_SECRET, api_url="https://api.test")
    client = OAuthClient(provider, transport=SharedTransport(inner), timeout=5.0)
    await client.fetch_profile(ACCESS_TOKEN)
    await client.fetch_profile(ACCESS_TOKEN)
    assert not inner.closed
    shared = SharedTransport(inner)
    await shared.aclose()
    assert not inner.closed
    assert shared.inner is inner
