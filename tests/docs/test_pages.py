"""The pages cover what the package has, and every code example on them is a file that is tested.

These checks read the Markdown sources and the build hook's output; the site test builds the HTML.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from importlib.metadata import metadata
from pathlib import Path

import docs_console
import kavach_docs
import openapi_markdown
import pytest
import settings_markdown
from fastapi.routing import APIRoute
from uvicorn.main import main as uvicorn_command

import kavach_fastapi
from kavach_fastapi import AtlassianSettings, ErrorCode, KavachSettings, kavach_router
from kavach_fastapi.cli import build_parser
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.emulator.cli import build_parser as emulator_parser
from kavach_fastapi.models import SessionView
from kavach_fastapi.testing import emulator_provider

from .conftest import DOCS, EXAMPLES, REPO, SECRET

PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>\w*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
SNIPPET = re.compile(r'^\s*--8<-- "(?P<path>[^":]+)(?::[\d:]+)?"\s*$')
ENV_NAMES = {
    f"{cls.model_config.get('env_prefix', '')}{name.upper()}"
    for cls in (AtlassianSettings, KavachSettings)
    for name in cls.model_fields
}


def fences(lang: str) -> list[tuple[Path, str]]:
    return [
        (page, match["body"])
        for page in PAGES
        for match in FENCE.finditer(page.read_text())
        if match["lang"] == lang
    ]


def included_paths() -> set[str]:
    return {
        match["path"]
        for page in PAGES
        for line in page.read_text().splitlines()
        if (match := SNIPPET.match(line))
    }


def test_every_python_example_is_an_included_file() -> None:
    blocks = fences("python")
    assert blocks
    for page, body in blocks:
        lines = [line for line in body.splitlines() if line.strip()]
        assert lines, f"{page.name}: empty python block"
        for line in lines:
            match = SNIPPET.match(line)
            assert match, f"{page.name}: write Python examples as files in docs/examples: {line!r}"
            assert match["path"].startswith("docs/examples/"), line


def test_every_included_file_exists() -> None:
    for path in included_paths() - {"SECURITY.md"}:
        assert (REPO / path).is_file(), path


def test_every_example_file_is_on_a_page_and_exercised_by_a_test() -> None:
    included = included_paths()
    tests = "\n".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    for example in sorted(EXAMPLES.iterdir()):
        if example.suffix not in (".py", ".env", ".crontab"):
            continue
        assert f"docs/examples/{example.name}" in included, f"{example.name} is on no page"
        assert example.stem in tests or example.name in tests, f"no test uses {example.name}"


def test_every_shell_command_on_the_pages_exists() -> None:
    makefile = (REPO / "Makefile").read_text()
    extras = set(metadata("kavach-fastapi").get_all("Provides-Extra") or [])
    commands = 0
    for page, body in fences("bash"):
        for raw in body.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line:
                continue
            words = shlex.split(line)
            commands += 1
            where = f"{page.name}: {line}"
            if words[0] == "make":
                assert re.search(rf"^{words[1]}:", makefile, re.M), where
            elif words[0] == "kavach":
                build_parser().parse_args(words[1:])
            elif words[:3] == ["python", "-m", "kavach_fastapi.emulator"]:
                emulator_parser().parse_args(words[3:])
            elif words[0] == "uvicorn":
                uvicorn_command.make_context("uvicorn", words[1:])
            elif words[:2] == ["pip", "install"]:
                for requirement in words[2:]:
                    name, _, extra = requirement.partition("[")
                    assert name == "kavach-fastapi", where
                    assert extra.rstrip("]") in extras | {""}, where
            elif words[0] in ("export", "unset"):
                for word in words[1:]:
                    assert word.split("=", 1)[0] in ENV_NAMES, where
            else:
                pytest.fail(f"{where}: a command this test does not know how to check")
    assert commands > 10


def test_every_environment_variable_named_on_the_pages_exists() -> None:
    text = "\n".join(page.read_text() for page in PAGES)
    named = set(re.findall(r"\b(?:ATLASSIAN|KAVACH)_[A-Z_]+[A-Z]\b", text))
    assert named - ENV_NAMES == set()


def test_every_json_example_parses() -> None:
    for page, body in fences("json"):
        try:
            json.loads(body)
        except ValueError as exc:
            pytest.fail(f"{page.name}: {exc}")


def test_every_public_name_is_on_one_page_of_the_api_reference() -> None:
    documented = [
        name
        for page in sorted((DOCS / "reference").glob("*.md"))
        for name in re.findall(r"^::: kavach_fastapi\.(\w+)$", page.read_text(), re.M)
    ]
    assert set(kavach_fastapi.__all__) - set(documented) == set()
    assert sorted(documented) == sorted(set(documented)), "a name is documented twice"


def test_every_error_code_is_on_the_errors_page(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        table = kavach_docs.error_codes()
    assert caplog.records == []
    for code in ErrorCode:
        assert f"### `{code.value}`" in table, code
        assert code.advice in table
    assert "<!-- kavach:error-codes -->" in (DOCS / "errors.md").read_text()


def test_every_setting_is_on_the_configuration_page(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        page = settings_markdown.settings_reference()
    assert caplog.records == []
    for cls in (AtlassianSettings, KavachSettings):
        prefix = str(cls.model_config.get("env_prefix"))
        for name, field in cls.model_fields.items():
            assert f"### `{prefix}{name.upper()}`" in page
            assert field.description
            assert field.description in page
    assert "<!-- kavach:settings -->" in (DOCS / "configuration.md").read_text()


def test_every_endpoint_is_on_the_endpoints_page(atlassian_emulator: AtlassianEmulator) -> None:
    router = kavach_router(
        [emulator_provider(atlassian_emulator)], database_url="sqlite://", secret=SECRET
    )
    page = openapi_markdown.endpoints_reference()
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    assert routes
    for route in routes:
        for method in route.methods or ():
            assert f"`{method} {route.path}`" in page
    assert "<!-- kavach:endpoints -->" in (DOCS / "endpoints.md").read_text()


def test_markers_all_render(caplog: pytest.LogCaptureFixture) -> None:
    markers = [m for page in PAGES for m in kavach_docs.MARKER.finditer(page.read_text())]
    with caplog.at_level(logging.WARNING):
        docs_console.run_commands([m["argument"] for m in markers if m["name"] == "console"])
        for match in markers:
            assert kavach_docs.render_marker(match["name"], match["argument"]).strip(), match[0]
    assert caplog.records == []


def test_kavach_check_shows_the_callback_url_of_the_environment() -> None:
    shown = docs_console.console(
        "KAVACH_BASE_URL=https://jira-tools.example.com/api/kavach kavach check"
    )
    assert "https://jira-tools.example.com/api/kavach/auth/oauth/callback/atlassian" in shown
    assert "Everything needed is set." in shown


def test_endpoint_examples_are_real_answers() -> None:
    answers = openapi_markdown.live_answers()

    session = SessionView.model_validate(answers[("get", "/auth/session")])
    assert session.user.name == "Ada Lovelace"
    sites = answers[("get", "/auth/oauth/atlassian/sites")]
    assert [site["name"] for site in sites] == ["Acme Engineering", "Acme Wiki"]
    assert answers[("post", "/auth/sign-out")] == {"signed_out": True}
    # The person is signed in on two other devices: ending one, then all others, ends one each.
    listed = answers[("get", "/auth/sessions")]
    assert sorted(session["current"] for session in listed) == [False, False, True]
    ended_one = answers[("delete", "/auth/sessions/{session_id}")]
    assert ended_one == {"ended": 1, "signed_out": False}
    assert answers[("delete", "/auth/sessions")] == {"ended": 1, "signed_out": False}


def test_every_json_endpoint_has_a_real_answer_as_its_example() -> None:
    answers = openapi_markdown.live_answers()

    json_endpoints = {
        (method, path)
        for path, operations in openapi_markdown.openapi()["paths"].items()
        for method, operation in operations.items()
        if any(
            status.startswith("2") and "application/json" in response.get("content", {})
            for status, response in operation.get("responses", {}).items()
        )
    }
    assert json_endpoints <= set(answers)
