"""Which credential of a request is its session token: the rules `session_token` keeps.

It reads the raw ASGI headers (the hot path of every signed-in request), so these pin down
what Starlette's ``Headers`` would have answered: the first ``Authorization`` header only, the
scheme in any case, blank credentials as none, and the cookie when there is no bearer token.
"""

from __future__ import annotations

import pytest
from starlette.requests import Request

from kavach_fastapi.http.cookies import session_token

TOKEN = "T" * 43
COOKIE = "C" * 43


def request(*headers: tuple[bytes, bytes], scheme: str = "http") -> Request:
    return Request({"type": "http", "scheme": scheme, "headers": list(headers)})


def test_a_bearer_token_is_the_session_token_before_the_cookie() -> None:
    asked = request(
        (b"cookie", f"kavach_session={COOKIE}".encode()),
        (b"authorization", f"Bearer {TOKEN}".encode()),
    )
    assert session_token(asked, None) == TOKEN


@pytest.mark.parametrize("scheme", [b"bearer", b"BEARER", b"bEaReR"])
def test_the_bearer_scheme_is_read_in_any_case(scheme: bytes) -> None:
    assert session_token(request((b"authorization", scheme + b" " + TOKEN.encode())), None) == TOKEN


def test_spaces_around_the_credentials_are_not_part_of_the_token() -> None:
    asked = request((b"authorization", f"Bearer   {TOKEN}  ".encode()))
    assert session_token(asked, None) == TOKEN


@pytest.mark.parametrize(
    "authorization", [b"Bearer", b"Bearer ", b"Bearer    ", b"Basic dXNlcjpwYXNz", b"Token abc"]
)
def test_without_bearer_credentials_the_cookie_is_the_session_token(authorization: bytes) -> None:
    asked = request(
        (b"authorization", authorization), (b"cookie", f"kavach_session={COOKIE}".encode())
    )
    assert session_token(asked, None) == COOKIE


def test_only_the_first_authorization_header_counts() -> None:
    asked = request((b"authorization", b"Basic abc"), (b"authorization", b"Bearer " + b"x" * 43))
    assert session_token(asked, None) is None


def test_nothing_carried_is_no_token() -> None:
    assert session_token(request((b"host", b"example.com")), None) is None


def test_over_https_only_the_host_prefixed_cookie_is_read() -> None:
    plain = (b"cookie", f"kavach_session={COOKIE}".encode())
    prefixed = (b"cookie", f"__Host-kavach_session={TOKEN}".encode())

    assert session_token(request(plain), "https://app.example.com") is None
    assert session_token(request(prefixed), "https://app.example.com") == TOKEN
    assert session_token(request(prefixed, scheme="https"), None) == TOKEN
    assert session_token(request(plain), "http://localhost:8000") == COOKIE
