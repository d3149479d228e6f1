"""Without uvicorn (``pip install kavach-fastapi`` alone), serving says what to install.

uvicorn comes with the ``emulator`` and ``standard`` extras. A ``None`` in ``sys.modules``
makes ``import uvicorn`` fail as it does where it was never installed.
"""

from __future__ import annotations

import sys

import pytest

from kavach_fastapi.cli import main as kavach_main
from kavach_fastapi.emulator.cli import main as emulator_main

INSTALL_LINE = 'pip install "kavach-fastapi[emulator]"'


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)


@pytest.mark.usefixtures("no_uvicorn")
def test_kavach_emulator_help_works_without_uvicorn(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        kavach_main(["emulator", "--help"])

    assert exited.value.code == 0
    assert "--redirect-uri" in capsys.readouterr().out


@pytest.mark.usefixtures("no_uvicorn")
def test_kavach_emulator_without_uvicorn_says_in_one_line_what_to_install(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = kavach_main(["emulator", "--port", "0"])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [captured.err.strip()]
    assert INSTALL_LINE in captured.err


@pytest.mark.usefixtures("no_uvicorn")
def test_a_wrong_option_is_reported_before_uvicorn_is_needed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        emulator_main(["--no-such-option"])

    assert exited.value.code == 2
    assert "--no-such-option" in capsys.readouterr().err


USER_TEST = """
import sys

import pytest


@pytest.fixture(autouse=True)
def no_uvicorn(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)


def test_against_a_served_emulator(atlassian_emulator_url):
    pass
"""


def test_the_url_fixture_without_uvicorn_fails_with_the_install_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_user=USER_TEST)

    result = pytester.runpytest("-p", "no:cacheprovider", "-q")

    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert INSTALL_LINE in output
    assert "Traceback" not in output
    assert "ModuleNotFoundError" not in output
