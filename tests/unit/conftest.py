"""Every unit test starts from a clean environment: no ``ATLASSIAN_*``/``KAVACH_*`` variables and
a fresh working directory, so neither the developer's shell nor a stray ``.env`` file leaks in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("ATLASSIAN_", "KAVACH_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
