"""Fuzzing every operation of the router's OpenAPI schema with schemathesis.

The app signs in against the emulator and is driven in-process over ASGI (schemathesis runs its
lifespan). Each operation gets ``MAX_EXAMPLES`` generated requests per generation mode (valid
and, where the schema allows any, invalid data), with the ``provider`` path parameter both
random and ``atlassian`` so the generated queries reach the sign-in code; once anonymous and once
with a valid session as a bearer token (state-changing operations last, so the session lives
through the others). Every answer must be no 5xx and conform to the schema: a documented status,
content type, headers and body. Examples are derandomised: ``make test`` runs the same requests
each time, in well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.core.transport import Response
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import sign_in

from .conftest import PREFIX, build_app

MAX_EXAMPLES = 20

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MODES = ("positive", "negative")

Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def operations(schema: OpenApiSchema) -> Iterator[Operation]:
    """The router's operations (not the test app's own routes), state-changing ones last."""
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        if result.ok().path.startswith(PREFIX):
            found.append(result.ok())
    yield from sorted(found, key=lambda op: (op.method.upper() not in SAFE_METHODS, op.path))


def fuzz(
    operation: Operation,
    mode: GenerationMode,
    provider: str | None,
    headers: dict[str, str],
    secrets: list[str],
    failures: list[str],
    seen: dict[str, set[int]],
) -> None:
    """Run one operation's examples; every failure is appended to ``failures``, none raised.

    ``seen`` collects the statuses each operation answered, to show how deep the run went.
    """
    path_parameters = {"provider": provider} if provider else None

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Case[Any]) -> None:
        response = case.call(headers=headers, allow_redirects=False)
        seen.setdefault(operation.label, set()).add(response.status_code)
        checks = [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            response_headers_conformance,
        ]
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            failures.append(f"{operation.label} [{mode.value}]: {group}")
        leaked = [secret for secret in secrets if secret in _body(response)]
        if leaked:
            failures.append(f"{operation.label}: a secret in the body of {case.as_curl_command()}")

    try:
        run()
    except Unsatisfiable:
        # Nothing in this operation can be made invalid (every parameter is a free string).
        assert mode is GenerationMode.NEGATIVE


def _body(response: Response) -> str:
    return response.content.decode("utf-8", "replace")


def signed_in_session(app: FastAPI, emulator: AtlassianEmulator) -> str:
    """Sign the emulator's first person in; return the session token, for use as a bearer."""
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, emulator)
        return str(client.cookies["kavach_session"])


@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
def test_fuzzing_the_openapi_schema_finds_no_server_error_and_no_schema_mismatch(
    tmp_path: Path, who: str
) -> None:
    emulator = AtlassianEmulator()
    app = build_app(tmp_path / "kavach.db", emulator)
    secrets = [emulator.default_client.client_secret]
    headers: dict[str, str] = {}
    if who == "signed-in":
        token = signed_in_session(app, emulator)
        headers["Authorization"] = f"Bearer {token}"
        secrets.extend([token, *emulator.state.access_tokens, *emulator.state.refresh_tokens])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    seen: dict[str, set[int]] = {}

    for operation in operations(schema):
        providers = [None, "atlassian"] if "{provider}" in operation.path else [None]
        for provider in providers:
            for mode in MODES:
                fuzz(operation, GenerationMode(mode), provider, headers, secrets, failures, seen)

    assert failures == []
    assert {302, 404} <= seen[f"GET {PREFIX}/auth/oauth/authorize/{{provider}}"]
    assert {303, 404} <= seen[f"GET {PREFIX}/auth/oauth/callback/{{provider}}"]
    assert seen[f"GET {PREFIX}/auth/session"] == ({200} if headers else {401})
    assert seen[f"GET {PREFIX}/auth/oauth/accounts"] == ({200} if headers else {401})
    assert {200, 303} <= seen[f"POST {PREFIX}/auth/sign-out"]
