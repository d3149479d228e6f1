"""One table of error codes: each code has one status, and everything reads it from there."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from kavach_fastapi import (
    ErrorCode,
    KavachError,
    ProviderError,
    ProviderUnavailableError,
    atlassian_provider,
    kavach_router,
)
from kavach_fastapi.http.errors import error_response

SECRET = "error-table-secret-0123456789-abcdefghijklm"


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_says_its_status_meaning_message_and_advice(code: ErrorCode) -> None:
    assert 400 <= code.status < 600
    assert code.meaning
    assert code.message
    assert code.advice
    assert (code.retry_after is not None) == (code.status in (429, 503))


def test_provider_unavailable_is_503_with_retry_after_on_the_sign_in_path_too() -> None:
    during_sign_in = ProviderError(code=ErrorCode.PROVIDER_UNAVAILABLE)
    elsewhere = ProviderUnavailableError()
    assert during_sign_in.status_code == elsewhere.status_code == 503
    answer = error_response(during_sign_in)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"


def test_an_error_has_the_status_and_message_of_the_code_it_is_given() -> None:
    error = KavachError(code=ErrorCode.UNKNOWN_SITE)
    assert error.status_code == 404
    assert error.message == ErrorCode.UNKNOWN_SITE.message


def test_the_openapi_lists_each_code_under_its_own_status_only() -> None:
    app = FastAPI()
    router = kavach_router(
        [atlassian_provider("id", "secret")], database_url="sqlite://", secret=SECRET
    )
    app.include_router(router)
    for operations in app.openapi()["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                for code in ErrorCode:
                    if f"`{code.value}`" in response.get("description", ""):
                        assert int(status) == code.status, (code, status)
