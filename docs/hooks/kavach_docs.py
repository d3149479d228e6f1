"""MkDocs hook: the parts of the documentation that are generated from the package itself.

A page asks for generated Markdown with a marker on a line of its own, such as
``<!-- kavach:settings -->``, and :func:`on_page_markdown` replaces it before the page is
rendered, so the references come from the code they describe and cannot drift from it:

| marker | what it becomes |
| --- | --- |
| ``settings`` | every ``ATLASSIAN_*`` and ``KAVACH_*`` variable, from the settings classes |
| ``error-codes`` | every ``ErrorCode`` with its status, meaning and advice, from its table |
| ``exceptions`` | the ``KavachError`` tree, with each class's code and status |
| ``endpoints`` | every route of ``kavach_router()`` (``openapi_markdown.py``) |
| ``error-example [CODE]`` | the answer the package's error handler gives for an error |
| ``fixtures`` | the pytest fixtures of both plugins, from their docstrings |
| ``emulator-banner`` | what ``python -m kavach_fastapi.emulator`` prints when it starts |
| ``emulator-endpoints`` | the api.atlassian.com endpoints the emulator serves |
| ``console COMMAND`` | a ``kavach`` command line with its output (``docs_console.py``) |

Problems (a marker nobody knows, a setting without a docstring) are logged as warnings, which
``mkdocs build --strict`` turns into a failed build.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path

import docs_console
import openapi_markdown
from docs_console import console, run_commands
from docs_text import escape_table, first_paragraph, first_sentence
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from openapi_markdown import endpoints_reference
from settings_markdown import settings_reference

import kavach_fastapi
from kavach_fastapi import (
    DatabaseUnavailableError,
    ErrorCode,
    KavachError,
    NotSignedInError,
    ProviderUnavailableError,
    QuotaExhaustedError,
    ReauthRequiredError,
)
from kavach_fastapi import pytest_plugin as kavach_plugin
from kavach_fastapi.emulator import pytest_plugin
from kavach_fastapi.emulator.cli import banner
from kavach_fastapi.emulator.config import default_client
from kavach_fastapi.emulator.endpoints import markdown_table
from kavach_fastapi.http.errors import error_response
from kavach_fastapi.router.signin_routes import CALLBACK_ERRORS

log = logging.getLogger("mkdocs.hooks.kavach_docs")

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""

MARKER = re.compile(
    r"^<!-- kavach:(?P<name>[a-z-]+)(?: (?P<argument>.*?))? -->[ \t]*$", re.M
)

SECURITY_INCLUDE = re.compile(r'^--8<-- "SECURITY\.md(?::[\d:]*)?"$', re.M)
"""The include of the security policy, which a checkout may not have yet."""


def error_codes() -> str:
    """Every ``ErrorCode`` from its table: a summary, then its status, meaning and advice."""
    summary = ["| code | status | meaning |", "| --- | --- | --- |"]
    sections: list[str] = []
    for code in ErrorCode:
        summary.append(
            f"| [`{code.value}`](#{code.value}) | {code.status} | {first_sentence(code.meaning)} |"
        )
        where = (
            f" · on the sign-in callback, as `?error={code.value}` on your landing page"
            if code in CALLBACK_ERRORS
            else ""
        )
        sections.append(
            f"### `{code.value}` {{#{code.value}}}\n\n"
            f"**{code.status}**{where} · `ErrorCode.{code.name}`\n\n"
            f"{code.meaning}\n\n**What to do:** {code.advice}\n"
        )
    return "\n".join(summary) + "\n\n" + "\n".join(sections)


def exceptions_reference() -> str:
    """The exception tree and a table of each class's code and status."""
    tree_lines: list[str] = []
    rows = [
        "| exception | code | status | raised when |",
        "| --- | --- | --- | --- |",
    ]
    exported = set(kavach_fastapi.__all__)
    classes = list(_exception_tree(KavachError))
    width = max(len(prefix) + len(cls.__name__) for prefix, cls in classes) + 3
    for prefix, cls in classes:
        label = f"{prefix}{cls.__name__}"
        tree_lines.append(
            f"{label.ljust(width)}{first_sentence(cls.__doc__ or '')}"
        )
        name = (
            f"[`{cls.__name__}`][kavach_fastapi.{cls.__name__}]"
            if cls.__name__ in exported
            else f"`{cls.__module__}.{cls.__name__}`"
        )
        rows.append(
            f"| {name} | `{cls.code.value}` | {cls.code.status} | "
            f"{escape_table(first_paragraph(cls.__doc__))} |"
        )
    return (
        "```text\n" + "\n".join(tree_lines) + "\n```\n\n" + "\n".join(rows) + "\n"
    )


SAMPLE_REAUTH_URL = (
    "https://your-app.example.com/api/kavach/auth/oauth/authorize/atlassian"
)

ERROR_EXAMPLES: dict[str, Callable[[], KavachError]] = {
    "not_signed_in": NotSignedInError,
    "reauth_required": lambda: ReauthRequiredError(reauth_url=SAMPLE_REAUTH_URL),
    "provider_unavailable": lambda: ProviderUnavailableError(retry_after=5),
    "database_unavailable": DatabaseUnavailableError,
    "quota_exhausted": lambda: QuotaExhaustedError(retry_after=1740),
}


def error_example(argument: str | None) -> str:
    """The answer, headers and JSON body, that the package's error handler gives for an error."""
    make = ERROR_EXAMPLES.get(argument or "not_signed_in")
    if make is None:
        log.warning(
            "kavach:error-example knows %s, not %r",
            ", ".join(ERROR_EXAMPLES),
            argument,
        )
        return ""
    response = error_response(make())
    body = json.dumps(json.loads(bytes(response.body)), indent=2)
    headers = "\n".join(
        f"{name}: {value}"
        for name, value in response.headers.items()
        if name.lower() not in ("content-length",)
    )
    reason = HTTPStatus(response.status_code).phrase
    return f"```http\nHTTP/1.1 {response.status_code} {reason}\n{headers}\n\n{body}\n```\n"


def fixtures_reference() -> str:
    """The fixtures of the pytest plugin: what each needs and gives, from the source."""
    nodes = [
        node
        for plugin in (pytest_plugin, kavach_plugin)
        for node in ast.parse(Path(inspect.getfile(plugin)).read_text()).body
    ]
    rows = ["| fixture | uses | gives |", "| --- | --- | --- |"]
    for node in nodes:
        if not isinstance(node, ast.FunctionDef) or not any(
            "fixture" in ast.unparse(decorator) for decorator in node.decorator_list
        ):
            continue
        uses = [arg.arg for arg in node.args.args if arg.arg != "request"]
        if node.name in ("kavach_client",):
            uses.append("your `kavach_app`")
        rows.append(
            f"| `{node.name}` | {', '.join(f'`{u}`' if '`' not in u else u for u in uses) or '—'} "
            f"| {escape_table(first_paragraph(ast.get_docstring(node)))} |"
        )
    return "\n".join(rows) + "\n"


def emulator_banner() -> str:
    """What the emulator prints on start, with its default app."""
    text = banner("http://127.0.0.1:9000", default_client())
    return f"```console\n$ python -m kavach_fastapi.emulator\n{text}\n```\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_reference,
    "error-codes": error_codes,
    "exceptions": exceptions_reference,
    "endpoints": endpoints_reference,
    "fixtures": fixtures_reference,
    "emulator-banner": emulator_banner,
    "emulator-endpoints": markdown_table,
}


def render_marker(name: str, argument: str | None) -> str:
    """The Markdown a marker stands for."""
    if name == "console" and argument:
        return console(argument)
    if name == "error-example":
        return error_example(argument)
    generator = GENERATORS.get(name)
    if generator is None or argument:
        log.warning("unknown docs marker kavach:%s %s", name, argument or "")
        return ""
    return generator()


def on_pre_build(config: MkDocsConfig) -> None:
    """Start afresh, and run the commands of every ``console`` marker of the site at once."""
    docs_console.clear()
    openapi_markdown.clear()
    arguments = [
        match["argument"]
        for page in sorted(Path(config.docs_dir).rglob("*.md"))
        for match in MARKER.finditer(page.read_text())
        if match["name"] == "console" and match["argument"]
    ]
    run_commands(arguments)


def on_page_markdown(
    markdown: str, page: Page, config: MkDocsConfig, files: Files
) -> str:
    """Replace the markers of a page with what they stand for."""
    markdown = MARKER.sub(
        lambda m: render_marker(m["name"], m["argument"]), markdown
    )
    if SECURITY_INCLUDE.search(markdown) and not (ROOT / "SECURITY.md").is_file():
        log.info(
            "SECURITY.md is not written yet; %s says so instead", page.file.src_path
        )
        markdown = SECURITY_INCLUDE.sub(
            '!!! note "The security policy"\n'
            "    The policy is kept in `SECURITY.md` at the root of the repository and "
            "appears on this page once it is there.",
            markdown,
        )
    return markdown


def _exception_tree(
    root: type[KavachError],
) -> Iterator[tuple[str, type[KavachError]]]:
    yield "", root

    def walk(
        cls: type[KavachError], indent: str
    ) -> Iterator[tuple[str, type[KavachError]]]:
        children = [
            c
            for c in cls.__subclasses__()
            if c.__module__.startswith("kavach_fastapi")
        ]
        for index, child in enumerate(children):
            last = index == len(children) - 1
            yield f"{indent}{'└── ' if last else '├── '}", child
            yield from walk(child, indent + ("    " if last else "│   "))

    yield from walk(root, "")
