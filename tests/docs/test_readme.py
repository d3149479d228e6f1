"""The README says what the code does: its tables, its app and its commands are checked against it.

The endpoint table lists every route of ``kavach_router()`` and the configuration table every
``ATLASSIAN_*`` and ``KAVACH_*`` setting, with the defaults the settings classes really have;
the ten-line app is the quick start's tested example; the emulator commands print and register
what the README says they do.
"""

from __future__ import annotations

import re
from datetime import timedelta
from importlib.metadata import metadata
from typing import Any

import pytest
from fastapi.routing import APIRoute
from packaging.requirements import Requirement
from pydantic_settings import BaseSettings
from uvicorn.main import main as uvicorn_command

from kavach_fastapi import AtlassianSettings, KavachSettings, kavach_router
from kavach_fastapi.cli import build_parser
from kavach_fastapi.emulator import AtlassianEmulator
from kavach_fastapi.emulator.cli import banner
from kavach_fastapi.emulator.config import DEFAULT_REDIRECT_URIS
from kavach_fastapi.testing import emulator_provider

from .conftest import EXAMPLES, REPO, SECRET
from .readme import README, commands, fences, section, table_rows

SETTINGS: tuple[type[BaseSettings], ...] = (AtlassianSettings, KavachSettings)


def env_name(cls: type[BaseSettings], field: str) -> str:
    return f"{cls.model_config.get('env_prefix', '')}{field.upper()}"


def spoken(value: Any) -> str | None:
    """How the README writes a default; ``None`` where it explains the default in words."""
    if value is None or value == ():
        return None
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        count, unit = (seconds // 86400, "day") if seconds % 86400 == 0 else (seconds, "second")
        return f"{count} {unit}{'' if count == 1 else 's'}"
    if isinstance(value, tuple):
        return f"`{' '.join(value)}`"
    return f"`{value}`"


def test_the_endpoint_table_lists_every_route_of_the_router_and_no_other() -> None:
    router = kavach_router(
        [emulator_provider(AtlassianEmulator())], database_url="sqlite://", secret=SECRET
    )
    routes = {
        (method, route.path)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    listed = set()
    for cells in table_rows(section("## Endpoints")):
        method, path = cells[0].strip("`").split(" ", 1)
        listed.add((method, path))

    assert listed == routes


def test_the_configuration_table_lists_every_setting_and_no_other() -> None:
    names = {env_name(cls, field) for cls in SETTINGS for field in cls.model_fields}
    listed = {
        name
        for cells in table_rows(section("## Configuration"))
        for name in re.findall(r"`([A-Z][A-Z_]+)`", cells[0])
    }

    assert listed == names


def test_the_configuration_table_shows_the_real_defaults() -> None:
    defaults = {
        env_name(cls, field): info.default
        for cls in SETTINGS
        for field, info in cls.model_fields.items()
    }
    checked = 0
    for cells in table_rows(section("## Configuration")):
        names = re.findall(r"`([A-Z][A-Z_]+)`", cells[0])
        shown = cells[1].split(" / ")
        for index, name in enumerate(names):
            expected = spoken(defaults[name])
            if expected is None:
                continue
            cell = shown[index] if len(shown) == len(names) else cells[1]
            assert cell == expected, f"{name}: the README says {cell}, the code {expected}"
            checked += 1
    assert checked >= 10


def test_the_ten_line_app_is_the_tested_quick_start_example() -> None:
    (app,) = fences(section("## Your own app in ten lines"), "python")

    assert app == (EXAMPLES / "quickstart_app.py").read_text()


def test_every_install_line_names_a_real_extra() -> None:
    extras = set(metadata("kavach-fastapi").get_all("Provides-Extra") or [])
    installs = [words for words in commands(README) if words[:2] == ["pip", "install"]]
    assert installs
    for words in installs:
        for requirement in words[2:]:
            if requirement == "-e":
                continue
            named = re.fullmatch(r"(?:kavach-fastapi|\.)(?:\[(?P<extra>\w+)\])?", requirement)
            assert named, f"not this package: {requirement}"
            assert named["extra"] in extras | {None}, requirement


def test_the_emulator_commands_install_what_they_run() -> None:
    """Each pip line before ``kavach emulator`` and ``uvicorn`` brings uvicorn."""
    requirements = [
        Requirement(line) for line in metadata("kavach-fastapi").get_all("Requires-Dist") or []
    ]
    lines = commands(section("### Against the emulator, with no Atlassian app"))
    (install,) = [words for words in lines if words[:2] == ["pip", "install"]]
    extra = re.findall(r"\[(\w+)\]", install[-1])
    assert extra, install
    brings = {
        requirement.name
        for requirement in requirements
        if requirement.marker is not None and requirement.marker.evaluate({"extra": extra[0]})
    }

    assert "uvicorn" in brings
    assert ["kavach", "emulator"] in [words[:2] for words in lines]
    assert ["uvicorn", "main:app"] in [words[:2] for words in lines]


def test_the_emulator_section_exports_what_kavach_emulator_prints() -> None:
    lines = commands(section("### Against the emulator, with no Atlassian app"))
    (start,) = [words for words in lines if words[:2] == ["kavach", "emulator"]]
    args = build_parser().parse_known_args(start[1:])[1]
    port = 9000 if "--port" not in args else int(args[args.index("--port") + 1])
    exported = dict(
        word.split("=", 1) for words in lines if words[0] == "export" for word in words[1:]
    )
    emulator = AtlassianEmulator()
    printed = dict(
        line.split("=", 1)
        for line in banner(f"http://127.0.0.1:{port}", emulator.default_client).splitlines()
        if line.startswith("ATLASSIAN_")
    )

    assert exported == printed


def test_the_sign_in_url_of_the_emulator_section_comes_back_to_a_registered_callback() -> None:
    text = section("### Against the emulator, with no Atlassian app")
    (serve,) = [words for words in commands(text) if words[:2] == ["uvicorn", "main:app"]]
    params = uvicorn_command.make_context("uvicorn", serve[1:]).params
    served = f"http://{params['host']}:{params['port']}"
    (sign_in,) = re.findall(r"`(http://\S+/auth/oauth/authorize/atlassian\S*)`", text)
    callbacks = re.findall(r"`(http://\S+/auth/oauth/callback/atlassian)`", text)

    assert sign_in.startswith(f"{served}/api/kavach/")
    assert f"{served}/api/kavach/auth/oauth/callback/atlassian" in callbacks
    assert set(callbacks) <= set(DEFAULT_REDIRECT_URIS)


@pytest.mark.parametrize("page", ["docs/endpoints.md", "docs/configuration.md"])
def test_the_readme_points_to_the_generated_pages(page: str) -> None:
    assert f"]({page})" in README
    assert (REPO / page).is_file()
