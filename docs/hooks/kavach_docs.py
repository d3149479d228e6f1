"""MkDocs hook: the parts of the documentation that are generated from the package itself.

A page asks for generated Markdown with a marker on a line of its own::

    <!-- kavach:settings -->

and :func:`on_page_markdown` replaces the marker before the page is rendered. So the configuration
reference, the endpoint list, the error codes and the outputs of commands come from the code
they describe and cannot drift from it. The markers:

``settings``
    every ``ATLASSIAN_*`` and ``KAVACH_*`` variable, from ``AtlassianSettings`` and
    ``KavachSettings`` (default, type, meaning, the keyword argument that overrides it).
``error-codes``
    every ``ErrorCode``: its HTTP statuses, meaning and what to do.
``exceptions``
    the ``KavachError`` tree, with each class's code and status.
``endpoints``
    every route of ``kavach_router()``, from the OpenAPI description of a router built here.
``error-example [CODE]``
    the answer the package gives for an error (``not_signed_in`` unless a code is named), made by
    the package's own error handler.
``fixtures``
    the pytest fixtures of the emulator's and the package's plugins, from their docstrings.
``emulator-banner``
    what ``python -m kavach_fastapi.emulator`` prints when it starts.
``emulator-endpoints``
    the api.atlassian.com endpoints the emulator serves and the scope sets each accepts, from
    its table.
``console COMMAND``
    a ``kavach`` command line (optionally preceded by ``NAME=value`` settings), run in a scratch
    folder with the app's credentials set, shown with its output.

Problems (a marker nobody knows, an error code without advice) are logged as warnings, which
``mkdocs build --strict`` turns into a failed build.
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import inspect
import itertools
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from enum import Enum
from http import HTTPStatus
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

import kavach_fastapi
from kavach_fastapi import (
    AtlassianSettings,
    DatabaseUnavailableError,
    ErrorCode,
    KavachError,
    KavachSettings,
    NotSignedInError,
    ProviderUnavailableError,
    ReauthRequiredError,
    atlassian_provider,
    kavach_router,
)
from kavach_fastapi import pytest_plugin as kavach_plugin
from kavach_fastapi.emulator import AtlassianEmulator, pytest_plugin
from kavach_fastapi.emulator.cli import banner
from kavach_fastapi.emulator.config import default_client
from kavach_fastapi.emulator.endpoints import markdown_table
from kavach_fastapi.http.errors import error_response
from kavach_fastapi.testing import emulator_provider, emulator_transport, sign_in

log = logging.getLogger("mkdocs.hooks.kavach_docs")

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""

MARKER = re.compile(
    r"^<!-- kavach:(?P<name>[a-z-]+)(?: (?P<argument>.*?))? -->[ \t]*$", re.M
)

SECURITY_INCLUDE = re.compile(r'^--8<-- "SECURITY\.md(?::[\d:]*)?"$', re.M)
"""The include of the security policy, which a checkout may not have yet."""

# What to do about each error code. Every ErrorCode must have an entry: a new code without one
# fails the strict build, so the errors page always covers every code.
ADVICE: dict[ErrorCode, str] = {
    ErrorCode.NOT_SIGNED_IN: (
        "Send the person to sign in: link to `<prefix>/auth/oauth/authorize/atlassian"
        "?redirect_to=<this page>`. An API client must send the session cookie or "
        "`Authorization: Bearer <session token>`."
    ),
    ErrorCode.INVALID_REQUEST: (
        "The callback arrived without a `code`, or a parameter is malformed. Offer to sign in "
        "again; if it keeps happening, check that no proxy or link scanner rewrites the callback URL. "
        "A sign-in start whose address (`Host` and mount path) makes a callback URL over 2048 "
        "characters is refused too: set `KAVACH_BASE_URL`."
    ),
    ErrorCode.INVALID_STATE: (
        "The sign-in link was used twice (a reload of the callback, a second tab) or never "
        "existed. Nothing to fix: offer a *Sign in* button."
    ),
    ErrorCode.SIGN_IN_EXPIRED: (
        "More than ten minutes passed between starting and finishing. Offer to sign in again."
    ),
    ErrorCode.BROWSER_MISMATCH: (
        "The callback opened in another browser or profile than the one that started the "
        "sign-in (a copied link, or cookies blocked for your site). Ask the person to sign in "
        "again from one browser, with cookies allowed."
    ),
    ErrorCode.ACCESS_DENIED: (
        "The person pressed *Decline* on Atlassian's consent page. Say that signing in needs "
        "their consent and offer to try again."
    ),
    ErrorCode.INVALID_SCOPE: (
        "A scope in `ATLASSIAN_SCOPES` is not enabled for your app in the developer console. "
        "Add it there (see [Atlassian setup](atlassian-setup.md#choose-the-scopes)) or stop "
        "requesting it."
    ),
    ErrorCode.PROVIDER_ERROR: (
        "Atlassian answered the callback with another `error=`. Check the app in the developer "
        "console (is it [shared](atlassian-setup.md#let-other-people-sign-in)?) and try again."
    ),
    ErrorCode.ISSUER_MISMATCH: (
        "The callback names an issuer other than `ATLASSIAN_AUTH_URL`: a forged or mixed-up "
        "callback. Check `ATLASSIAN_AUTH_URL`; otherwise nothing was signed in and nothing is "
        "needed."
    ),
    ErrorCode.TOKEN_EXCHANGE_FAILED: (
        "Atlassian refused to exchange the code, most often for a wrong "
        "`ATLASSIAN_CLIENT_SECRET`. Compare the credentials with the developer console and run "
        "[`kavach check`](atlassian-setup.md#register-the-callback-url)."
    ),
    ErrorCode.PROFILE_FETCH_FAILED: (
        "`/me` failed or had no `account_id`. Make sure the app has the *User identity API* "
        "(`read:me`) in the developer console, then try again."
    ),
    ErrorCode.PROVIDER_UNAVAILABLE: (
        "Atlassian timed out, failed or is rate-limiting, even after retries. Try again after "
        "the `Retry-After` seconds; show the person a *try again shortly* message."
    ),
    ErrorCode.ACCOUNT_DISABLED: (
        "The Atlassian account is closed or deactivated and may not sign in. Only the person's "
        "Atlassian organisation can change that."
    ),
    ErrorCode.CROSS_SITE_REQUEST: (
        "A browser sent the request from another site. Send it from your own pages; if a front "
        "end of yours on another origin must sign people out, add that origin to "
        "`KAVACH_CSRF_TRUSTED_ORIGINS` (`KAVACH_TRUSTED_ORIGINS` only says where `redirect_to` "
        "may point, and never allows this)."
    ),
    ErrorCode.UNKNOWN_PROVIDER: (
        "The URL names a provider that is not configured. Use `atlassian`; "
        "`GET /auth/oauth/providers` lists the configured ones."
    ),
    ErrorCode.REAUTH_REQUIRED: (
        "The Atlassian grant is gone (revoked, unused for 90 days, a year old, or its refresh "
        "token was reused too late). Retrying never helps: send the browser to `reauth_url` so "
        "the person consents again (see [Tokens and refresh](tokens.md#reauth_required))."
    ),
    ErrorCode.UNKNOWN_SITE: (
        "The cloud id is not one of the sites the person granted. List their sites with "
        "`AtlassianSites` and let them choose, or have them consent again and tick the site."
    ),
    ErrorCode.RATE_LIMITED: (
        "Too many sign-in starts and callbacks from one address this minute: wait "
        "`Retry-After` seconds. Behind a proxy, make sure the server sees real client addresses "
        "([`--forwarded-allow-ips`](deployment.md#behind-a-proxy)); raise `KAVACH_RATE_LIMIT` "
        "if needed."
    ),
    ErrorCode.SIGN_IN_BUSY: (
        "As many sign-ins as `KAVACH_MAX_PENDING_SIGN_INS` allows are waiting for their callback "
        "(a flood of sign-in starts, most likely). Nobody's pending sign-in was dropped: retry "
        "after `Retry-After` seconds. Raise the setting if your real traffic needs more."
    ),
    ErrorCode.DATABASE_UNAVAILABLE: (
        "The app's database cannot be reached (stopped, restarting, out of connections) or a "
        "SQLite file stays locked longer than `KAVACH_SQLITE_BUSY_TIMEOUT`. Retry after "
        "`Retry-After` seconds; the app recovers by itself when the database is back (see "
        "[Deployment](deployment.md#database-outages))."
    ),
    ErrorCode.NOT_CONFIGURED: (
        "A set-up problem, named in the message: a missing or invalid setting, a database "
        "schema that needs `kavach db upgrade`, or an app that never included `kavach_router()` "
        "or did not run its lifespan (in tests, use `with TestClient(app)`)."
    ),
}

# Parameters whose route gives no description of its own.
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

COMMAND_ENV = {
    "ATLASSIAN_CLIENT_ID": "your-client-id",
    "ATLASSIAN_CLIENT_SECRET": "your-client-secret",
}
"""The credentials every ``console`` marker runs with (shown on the pages as placeholders)."""


# The generators


def settings_reference() -> str:
    """Every setting of both settings classes, as a summary table and one section each."""
    groups: list[tuple[type[BaseSettings], Callable[..., object], str]] = [
        (AtlassianSettings, atlassian_provider, "The Atlassian app"),
        (KavachSettings, kavach_router, "Users, sessions and tokens"),
    ]
    summary = ["| variable | default | meaning |", "| --- | --- | --- |"]
    sections: list[str] = []
    for cls, factory, title in groups:
        sections.append(f"## {title}\n\n{_first_paragraph(cls.__doc__)}\n")
        prefix = str(cls.model_config.get("env_prefix", ""))
        keywords = inspect.signature(factory).parameters
        for name, field in cls.model_fields.items():
            variable = f"{prefix}{name.upper()}"
            description = field.description or ""
            if not description:
                log.warning(
                    "%s.%s has no docstring for the docs", cls.__name__, name
                )
            default = _default(field)
            anchor = variable.lower()
            summary.append(
                f"| [`{variable}`](#{anchor}) | {default} | {_first_sentence(description)} |"
            )
            lines = [
                f"### `{variable}` {{#{anchor}}}",
                "",
                _escape_table(description),
                "",
                f"- **Default:** {default}",
                f"- **Type:** {_type(field)}",
            ]
            if name in keywords:
                lines.append(
                    f"- **Keyword argument:** `{factory.__name__}({name}=...)`"
                )
            sections.append("\n".join(lines) + "\n")
    table = (
        '<div class="kavach-settings" markdown>\n\n'
        + "\n".join(summary)
        + "\n\n</div>\n"
    )
    return table + "\n" + "\n".join(sections)


def error_codes() -> str:
    """Every ``ErrorCode``: a summary table, then its statuses, meaning and what to do."""
    statuses = _statuses_by_code()
    callback_codes = _callback_codes()
    docs = _attribute_docstrings(ErrorCode)
    summary = ["| code | status | meaning |", "| --- | --- | --- |"]
    sections: list[str] = []
    for code in ErrorCode:
        advice = ADVICE.get(code)
        if advice is None:
            log.warning(
                "ErrorCode.%s has no advice: add it to ADVICE in docs/hooks/kavach_docs.py",
                code.name,
            )
            advice = ""
        meaning = docs.get(code.name, "")
        status = ", ".join(str(s) for s in sorted(statuses.get(code, set()))) or "—"
        summary.append(
            f"| [`{code.value}`](#{code.value}) | {status} | {_first_sentence(meaning)} |"
        )
        where = (
            f" · on the sign-in callback, as `?error={code.value}` on your landing page"
            if code in callback_codes
            else ""
        )
        sections.append(
            f"### `{code.value}` {{#{code.value}}}\n\n"
            f"**{status}**{where} · `ErrorCode.{code.name}`\n\n"
            f"{meaning}\n\n**What to do:** {advice}\n"
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
            f"{label.ljust(width)}{_first_sentence(cls.__doc__ or '')}"
        )
        name = (
            f"[`{cls.__name__}`][kavach_fastapi.{cls.__name__}]"
            if cls.__name__ in exported
            else f"`{cls.__module__}.{cls.__name__}`"
        )
        rows.append(
            f"| {name} | `{cls.code.value}` | {cls.code.status} | "
            f"{_escape_table(_first_paragraph(cls.__doc__))} |"
        )
    tree = "```text\n" + "\n".join(tree_lines) + "\n```\n"
    return tree + "\n" + "\n".join(rows) + "\n"


SAMPLE_REAUTH_URL = (
    "https://your-app.example.com/api/kavach/auth/oauth/authorize/atlassian"
)

ERROR_EXAMPLES: dict[str, Callable[[], KavachError]] = {
    "not_signed_in": NotSignedInError,
    "reauth_required": lambda: ReauthRequiredError(reauth_url=SAMPLE_REAUTH_URL),
    "provider_unavailable": lambda: ProviderUnavailableError(retry_after=5),
    "database_unavailable": DatabaseUnavailableError,
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


def endpoints_reference() -> str:
    """Every route of a router built here, from its OpenAPI description."""
    schema = _openapi()
    components = schema.get("components", {}).get("schemas", {})
    answers = _live_answers()
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
            f"| {_escape_table(_first_paragraph(ast.get_docstring(node)))} |"
        )
    return "\n".join(rows) + "\n"


def emulator_banner() -> str:
    """What the emulator prints on start, with its default app."""
    text = banner("http://127.0.0.1:9000", default_client())
    return f"```console\n$ python -m kavach_fastapi.emulator\n{text}\n```\n"


def console(argument: str) -> str:
    """A ``kavach`` command line, run in a scratch folder, shown with its output."""
    if argument not in _CONSOLE:
        run_commands([argument])
    return _CONSOLE.get(argument, "")


_CONSOLE: dict[str, str] = {}
"""Rendered ``console`` markers of this build, by marker argument."""

# Runs in a child process, so that the commands see only the environment the page shows.
_COMMAND_RUNNER = """
import contextlib, io, json, os, sys, tempfile
from kavach_fastapi.cli import main

results = []
for command in json.load(sys.stdin):
    with tempfile.TemporaryDirectory(prefix="kavach-docs-") as scratch:
        os.chdir(scratch)
        os.environ.clear()
        os.environ.update(command["env"], HOME=scratch)
        if command["args"][:1] == ["check"]:
            # The scratch database is brought up to date first, so that `check` reports on the
            # settings shown and not on a database nobody created.
            main(["db", "upgrade"], out=io.StringIO())
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            try:
                main(command["args"], out=output)
            except SystemExit:
                pass
        results.append(output.getvalue())
json.dump(results, sys.stdout)
"""


def run_commands(arguments: list[str]) -> None:
    """Run the commands of ``console`` markers in one child process and keep their Markdown."""
    commands: list[dict[str, Any]] = []
    shown: list[str] = []
    for argument in arguments:
        words = shlex.split(argument)
        settings = {}
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            settings[name] = value
        if not words or words[0] != "kavach":
            log.warning(
                "kavach:console must run a `kavach` command, not %r", argument
            )
            continue
        env = {
            "PATH": os.environ.get("PATH", ""),
            "COLUMNS": "100",
            **COMMAND_ENV,
            **settings,
        }
        commands.append({"env": env, "args": words[1:]})
        shown.append(argument)
    if not commands:
        return
    completed = subprocess.run(  # noqa: S603 - our own CLI, with arguments from our own pages
        [sys.executable, "-c", _COMMAND_RUNNER],
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        log.warning("the kavach commands of the docs failed:\n%s", completed.stderr)
        return
    for argument, output in zip(shown, json.loads(completed.stdout), strict=True):
        if "Traceback" in output:
            log.warning("`%s` crashed:\n%s", argument, output)
        _CONSOLE[argument] = f"```console\n$ {argument}\n{output.rstrip()}\n```\n"


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


# MkDocs events


def on_pre_build(config: MkDocsConfig) -> None:
    """Run the commands of every ``console`` marker of the site at once."""
    _CONSOLE.clear()
    _OPENAPI.clear()
    _ANSWERS.clear()
    arguments = []
    for page in sorted(Path(config.docs_dir).rglob("*.md")):
        for match in MARKER.finditer(page.read_text()):
            if match["name"] == "console" and match["argument"]:
                arguments.append(match["argument"])
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


_ROLE = re.compile(
    r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([\w.]+)</code>"
)


def on_page_content(
    html: str, page: Page, config: MkDocsConfig, files: Files
) -> str:
    """Tidy reStructuredText left in docstrings (``:class:`X```, ``::``) for the reference."""
    html = _ROLE.sub(
        lambda m: f"<code>{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}</code>",
        html,
    )
    html = html.replace("<p>::</p>", "")
    return re.sub(r"::</p>", ":</p>", html)


# Helpers


def _first_paragraph(text: str | None) -> str:
    return " ".join(inspect.cleandoc(text or "").split("\n\n", 1)[0].split())


def _first_sentence(text: str) -> str:
    """The first sentence or clause of a docstring, for a summary column."""
    first = _first_paragraph(text)
    in_code = False
    for index, char in enumerate(first):
        if char == "`":
            in_code = not in_code
        elif in_code:
            continue
        elif char == ";" or (
            char == "." and first[index + 1 : index + 3].strip()[:1].isupper()
        ):
            first = first[:index]
            break
    return _escape_table(first.rstrip(":;. "))


def _escape_table(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{' '.join(str(item) for item in value)}`" if value else "none"
    if isinstance(value, dt.timedelta):
        return f"`{int(value.total_seconds())}` ({_human(value)})"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _human(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _type(field: FieldInfo) -> str:
    annotation = str(field.annotation)
    bounds = []
    for item in field.metadata:
        if isinstance(item, Ge):
            bounds.append(f"at least {_bound(item.ge)}")
        elif isinstance(item, Gt):
            bounds.append(f"more than {_bound(item.gt)}")
    if "timedelta" in annotation:
        kind = "duration: seconds (`3600`) or ISO 8601 (`PT1H`)"
    elif "SecretStr" in annotation:
        kind = "secret text"
    elif "tuple" in annotation:
        kind = "list of text"
    elif "bool" in annotation:
        kind = "`true` or `false`"
    elif "int" in annotation:
        kind = "whole number"
    elif "float" in annotation:
        kind = "number of seconds"
    else:
        kind = "text"
    return ", ".join([kind, *bounds])


def _bound(value: object) -> str:
    if isinstance(value, dt.timedelta):
        return f"`{int(value.total_seconds())}`"
    return f"`{value}`"


def _attribute_docstrings(enum: type[Enum]) -> dict[str, str]:
    """The docstrings written under the members of an enum, by member name."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(enum)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    found: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[node.targets[0].id] = " ".join(after.value.value.split())
    return found


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


def _statuses_by_code() -> dict[ErrorCode, set[int]]:
    statuses: dict[ErrorCode, set[int]] = {}
    exported = set(kavach_fastapi.__all__)
    for _prefix, cls in _exception_tree(KavachError):
        # Internal subclasses (a key that cannot decrypt, say) are not meant to reach a client.
        if cls.__name__ in exported:
            statuses.setdefault(cls.code, set()).add(cls.code.status)
    for code, status in _route_error_codes():
        statuses.setdefault(code, set()).add(status)
    return statuses


def _callback_codes() -> set[ErrorCode]:
    schema = _openapi()
    found: set[ErrorCode] = set()
    for path, operations in schema["paths"].items():
        if "/callback/" in path:
            for operation in operations.values():
                for response in operation.get("responses", {}).values():
                    found |= set(_codes_in(response.get("description", "")))
    return found


def _route_error_codes() -> Iterator[tuple[ErrorCode, int]]:
    for operations in _openapi()["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                for code in _codes_in(response.get("description", "")):
                    yield code, int(status)


def _codes_in(description: str) -> list[ErrorCode]:
    values = {code.value: code for code in ErrorCode}
    return [
        values[v] for v in re.findall(r"`([a-z_]+)`", description) if v in values
    ]


_OPENAPI: dict[str, Any] = {}


def _openapi() -> dict[str, Any]:
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


DOCS_PREFIX = "/api/kavach"


def _live_answers() -> dict[tuple[str, str], Any]:
    """What each JSON endpoint answers to a person signed in through the emulator.

    Every endpoint without a path parameter other than ``{provider}`` is called once, as
    ``atlassian``: reads first, then deletions, then the sign-out.
    """
    if _ANSWERS:
        return _ANSWERS
    emulator = AtlassianEmulator()
    provider = emulator_provider(emulator, scopes=("read:jira-user",))
    order = {"get": 0, "delete": 1, "post": 2}
    operations = sorted(
        (
            (method, path)
            for path, ops in _openapi()["paths"].items()
            for method in ops
        ),
        key=lambda operation: order.get(operation[0], 3),
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
            sign_in(client, emulator)
            for method, path in operations:
                url = DOCS_PREFIX + path.replace("{provider}", "atlassian")
                if "{" in url:
                    continue
                response = client.request(method.upper(), url)
                kind = response.headers.get("content-type", "")
                if response.is_success and kind.startswith("application/json"):
                    _ANSWERS[(method, path)] = response.json()
    return _ANSWERS


_ANSWERS: dict[tuple[str, str], Any] = {}


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
                f"{'yes' if parameter.get('required') else 'no'} | {_escape_table(meaning)} |"
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
        lines.append(f"| {status} | {_escape_table(description)} |")
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
