"""The endpoints page: the router's OpenAPI description, as Markdown.

The description is that of an app with one router built here; each endpoint's JSON example is
its real answer to a person signed in through the emulator (:func:`live_answers`), or, for an
endpoint that cannot be called so, an example made from its schema.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import tempfile
from typing import Any

from docs_text import escape_table
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import ErrorCode, atlassian_provider, kavach_router
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in

DOCS_PREFIX = "/api/kavach"

# Parameters whose route gives no description of its own.
OTHER_DEVICES = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
"""The user agents of the person's two other sessions in the examples."""

PARAMETER_NOTES = {
    "provider": "the provider id: `atlassian`",
    "state": "the sign-in attempt, as sent to the provider",
    "code": "the authorization code, when the person accepted",
    "error": "the provider's error, when the person declined or it failed",
    "iss": "the issuer, when the provider names itself",
}

SAMPLE_STRINGS = {
    "account_id": "712020:2f6c1e0a-4b7d-4e8a-9c3f-5d1b2a7e6f01",
    "email": "ada@example.com",
    "id": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
    "image": "https://avatar-management.services.atlassian.com/ada.png",
    "message": "A sentence safe to show to a person.",
    "name": "Ada Lovelace",
    "provider": "atlassian",
    "url": "https://acme.atlassian.net",
}

SAMPLE_TIME = "2026-01-31T09:30:00Z"

DOCS_SECRET = "p4Rk-docs-build-Q7vXz2Lm9TnW3bYc8HsJ"  # noqa: S105 - builds docs only
"""The key of the routers built here to describe the package (never a production key)."""


def endpoints_reference() -> str:
    """Every route of a router built here, from its OpenAPI description."""
    schema = openapi()
    components = schema.get("components", {}).get("schemas", {})
    answers = live_answers()
    summary = ["| method and path | what it does |", "| --- | --- |"]
    sections: list[str] = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            title = operation.get("summary") or f"{method.upper()} {path}"
            anchor = _slug(f"{method}-{path}")
            summary.append(f"| [`{method.upper()} {path}`](#{anchor}) | {title} |")
            answer = answers.get((method, path))
            sections.append(
                _operation(method, path, operation, components, anchor, answer)
            )
    return "\n".join(summary) + "\n\n" + "\n".join(sections)


_OPENAPI: dict[str, Any] = {}


def openapi() -> dict[str, Any]:
    """The OpenAPI description of an app with one router, built once per build."""
    if not _OPENAPI:
        provider = atlassian_provider("docs-client-id", "docs-client-secret")
        router = kavach_router(
            [provider], database_url="sqlite://", secret=DOCS_SECRET
        )
        app = FastAPI()
        app.include_router(router)
        _OPENAPI.update(app.openapi())
        asyncio.run(router.kavach.close())
    return _OPENAPI


_ANSWERS: dict[tuple[str, str], Any] = {}


def live_answers() -> dict[tuple[str, str], Any]:
    """What each JSON endpoint answers to a person signed in through the emulator.

    Every endpoint is called once, ``{provider}`` as ``atlassian`` and ``{session_id}`` as
    one of the person's other sessions: reads first, then deletions, then the sign-out. The
    person has signed in on two other devices too, so that ending one session, then all the
    others, each ends one.
    """
    if _ANSWERS:
        return _ANSWERS
    emulator = AtlassianEmulator()
    provider = emulator_provider(emulator, scopes=("read:jira-user",))
    order = {"get": 0, "delete": 1, "post": 2}
    operations = sorted(
        (
            (method, path)
            for path, ops in openapi()["paths"].items()
            for method in ops
        ),
        key=lambda operation: (
            order.get(operation[0], 3),
            "{session_id}" not in operation[1],
        ),
    )
    with tempfile.TemporaryDirectory(prefix="kavach-docs-") as folder:
        router = kavach_router(
            [provider],
            database_url=f"sqlite:///{folder}/kavach.db",
            secret=DOCS_SECRET,
            http_transport=emulator_transport(emulator),
            rate_limit=0,  # TestClient reports no IP address, which the limiter warns about
        )
        app = FastAPI()
        app.include_router(router, prefix=DOCS_PREFIX)
        with TestClient(app, follow_redirects=False) as client:
            for device in OTHER_DEVICES:
                # No lifespan of its own: the app's is running, for every client alike.
                other = TestClient(
                    app, follow_redirects=False, headers={"user-agent": device}
                )
                sign_in(other, emulator)
            sign_in(client, emulator)
            sessions = client.get(f"{DOCS_PREFIX}/auth/sessions").json()
            another = next(
                session["id"] for session in sessions if not session["current"]
            )
            for method, path in operations:
                url = DOCS_PREFIX + path.replace("{provider}", "atlassian").replace(
                    "{session_id}", another
                )
                if "{" in url:
                    continue
                response = client.request(method.upper(), url)
                kind = response.headers.get("content-type", "")
                if response.is_success and kind.startswith("application/json"):
                    _ANSWERS[(method, path)] = response.json()
    return _ANSWERS


def clear() -> None:
    """Forget what an earlier build described (``mkdocs serve`` rebuilds in one process)."""
    _OPENAPI.clear()
    _ANSWERS.clear()


def _operation(
    method: str,
    path: str,
    operation: dict[str, Any],
    components: dict[str, Any],
    anchor: str,
    answer: Any = None,
) -> str:
    """One endpoint: its description, parameters, answers and an example of its JSON.

    The example is ``answer``, the endpoint's real answer to a signed-in person, when there
    is one; otherwise it is made from the response's schema.
    """
    lines = [
        f"### {operation.get('summary') or path} {{#{anchor}}}",
        "",
        f"`{method.upper()} {path}`",
        "",
        inspect.cleandoc(operation.get("description", "")),
        "",
    ]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += [
            "| parameter | in | required | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for parameter in parameters:
            meaning = parameter.get("description") or PARAMETER_NOTES.get(
                parameter["name"], ""
            )
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | "
                f"{'yes' if parameter.get('required') else 'no'} | {escape_table(meaning)} |"
            )
        lines.append("")
    lines += ["| answer | meaning |", "| --- | --- |"]
    examples: list[str] = []
    for status, response in sorted(operation.get("responses", {}).items()):
        description = _link_codes(response.get("description", ""))
        content = response.get("content", {}).get("application/json", {})
        if status.startswith("2") and content.get("schema"):
            if answer is None:
                answer = _example(content["schema"], components, None)
            examples.append(json.dumps(answer, indent=2))
            description = "JSON, as below"
        elif status.startswith("3"):
            description = "Redirect: the browser follows `Location`"
        elif status == "422":
            description = 'FastAPI\'s own validation error, `{"detail": [...]}`, for a malformed parameter'
        else:
            description = f"JSON error. {description}"
        lines.append(f"| {status} | {escape_table(description)} |")
    lines.append("")
    for example in examples:
        lines += ["```json", example, "```", ""]
    return "\n".join(lines)


def _example(
    schema: dict[str, Any], components: dict[str, Any], name: str | None
) -> Any:
    if "$ref" in schema:
        return _example(
            components[schema["$ref"].rsplit("/", 1)[-1]], components, name
        )
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], components, name) if options else None
    kind = schema.get("type")
    if kind == "object":
        return {
            key: _example(value, components, key)
            for key, value in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_example(schema.get("items", {}), components, name)]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return 0
    if schema.get("format") == "date-time":
        return SAMPLE_TIME
    return SAMPLE_STRINGS.get(name or "", "string")


def _link_codes(description: str) -> str:
    """Error codes in a route's description, linked to their row on the errors page."""
    values = {code.value for code in ErrorCode}
    return re.sub(
        r"`([a-z_]+)`",
        lambda m: f"[`{m[1]}`](errors.md#{m[1]})" if m[1] in values else m[0],
        description,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
