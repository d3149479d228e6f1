"""The documentation's examples, run as tests: every code example is a file a test imports or runs.

The examples live in ``docs/examples`` and the build hook in ``docs/hooks``; both folders are on
``sys.path`` (pytest's ``pythonpath`` in ``pyproject.toml``), so that tests import them by name, as
the pages show them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from kavach_fastapi import kavach_router
from kavach_fastapi.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, AtlassianEmulator
from kavach_fastapi.testing import emulator_provider

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
EXAMPLES = DOCS / "examples"
PREFIX = "/api/kavach"
SECRET = "docs-test-secret-0123456789-0123456789"
SCOPES = ("read:jira-user", "read:jira-work", "read:space:confluence")
"""What the examples' routes need: Jira's myself and issues, Confluence's spaces."""

JIRA_SITE = "1f7c2a3e-9b4d-4c5a-8e6f-2d3b4c5a6e7f"
WIKI_SITE = "6b8e4d2c-3a1f-4e9b-a7c6-5f0d1e2b3c4a"


def load_example(name: str) -> ModuleType:
    """Import ``docs/examples/<name>.py`` afresh, as its own module (for examples that read the
    environment when imported)."""
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def started_example(name: str) -> Iterator[TestClient]:
    """A browser of the ``app`` of ``docs/examples/<name>.py`` (imported afresh), its lifespan
    run, redirects not followed."""
    with TestClient(load_example(name).app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def quickstart_environment(monkeypatch: pytest.MonkeyPatch, atlassian_emulator_url: str) -> None:
    """What the quick start exports: the served emulator's URL and its demo app's credentials."""
    monkeypatch.setenv("ATLASSIAN_AUTH_URL", atlassian_emulator_url)
    monkeypatch.setenv("ATLASSIAN_API_URL", atlassian_emulator_url)
    monkeypatch.setenv("ATLASSIAN_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("ATLASSIAN_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)


def app_with(
    routers: Iterable[APIRouter],
    emulator: AtlassianEmulator,
    transport: httpx2.AsyncBaseTransport,
    database: Path,
    **provider_options: Any,
) -> FastAPI:
    """An app as the pages describe it: the kavach router at ``/api/kavach`` and the example's
    routers, signing in against ``emulator``."""
    app = FastAPI()
    provider = emulator_provider(emulator, scopes=SCOPES, **provider_options)
    app.include_router(
        kavach_router(
            [provider],
            database_url=f"sqlite:///{database}",
            secret=SECRET,
            http_transport=transport,
        ),
        prefix=PREFIX,
    )
    for router in routers:
        app.include_router(router)
    return app
