"""The built wheel, installed in a fresh virtual environment as the README says, runs its app.

Nothing of the checkout is on the path: the README's install line (its extra) goes into a new
venv, the README's ten-line app is written to an empty folder, ``kavach emulator`` and
``uvicorn main:app`` are that venv's commands with the README's environment lines, and a person
signs in over HTTP and lands on ``/me``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from ..docs.readme import commands, fences, section
from ..integration.served_apps import (
    clean_environment,
    free_listener,
    run_emulator,
    serve_with_uvicorn,
    sign_in_over_http,
)
from .conftest import Dist, run_needing_the_index

pytestmark = pytest.mark.network

EMULATOR_SECTION = "### Against the emulator, with no Atlassian app"
README_EMULATOR = "http://127.0.0.1:9000"
README_APP = "http://127.0.0.1:8000"
CALLBACK_PATH = "/api/kavach/auth/oauth/callback/atlassian"


def fresh_venv(where: Path, dist: Dist, extra: str) -> Path:
    """A new venv with ``<wheel>[extra]`` installed, by this interpreter's pip; its bin folder."""
    # No pip of its own: this interpreter's pip installs into it (faster than ensurepip).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)  # noqa: S603
    pip = [sys.executable, "-m", "pip", "--python", str(where / "bin" / "python"), "install"]
    run_needing_the_index(
        [*pip, "--quiet", "--no-compile", f"{dist.wheel}[{extra}]"], what="Installing the wheel"
    )
    return where / "bin"


def test_the_wheel_runs_the_readme_app_against_kavach_emulator(dist: Dist, tmp_path: Path) -> None:
    text = section(EMULATOR_SECTION)
    lines = commands(text)
    (install,) = [words for words in lines if words[:2] == ["pip", "install"]]
    (extra,) = re.findall(r"\[(\w+)\]", install[-1])
    exports = dict(
        word.split("=", 1) for words in lines if words[0] == "export" for word in words[1:]
    )
    (sign_in_url,) = re.findall(r"`(http://\S+/auth/oauth/authorize/atlassian\S*)`", text)
    (app_source,) = fences(section("## Your own app in ten lines"), "python")
    bin_dir = fresh_venv(tmp_path / "venv", dist, extra)
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "main.py").write_text(app_source)
    env = clean_environment()
    env.pop("PYTHONPATH", None)

    listener = free_listener()
    app_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    emulator = [str(bin_dir / "kavach"), "emulator", "--port", "0"]
    with run_emulator([*emulator, "--redirect-uri", f"{app_url}{CALLBACK_PATH}"], env=env) as emu:
        app_env = {
            **env,
            **{name: value.replace(README_EMULATOR, emu) for name, value in exports.items()},
        }
        uvicorn = [str(bin_dir / "uvicorn"), "main:app"]
        with (
            serve_with_uvicorn(uvicorn, env=app_env, cwd=folder, listener=listener) as app,
            httpx2.Client(trust_env=False, follow_redirects=False, timeout=15.0) as browser,
        ):
            landing = sign_in_over_http(browser, sign_in_url.replace(README_APP, app.url))

    assert str(landing.url) == f"{app.url}/me"
    assert landing.status_code == 200, landing.text
    assert landing.json()["name"] == "Ada Lovelace"
    assert "Traceback" not in app.log(), app.log()
