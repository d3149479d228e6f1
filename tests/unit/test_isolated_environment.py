"""Every test starts from the package's defaults, whatever the shell or a ``.env`` file says."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

INNER_TEST = """
from kavach_fastapi.settings import KavachSettings


def test_the_rate_limit_is_the_default():
    assert KavachSettings().rate_limit == 30
"""


@pytest.fixture
def started_beside_a_dotenv(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test run started in a folder holding a ``.env``, from a shell that sets the same."""
    (pytester.path / ".env").write_text("KAVACH_RATE_LIMIT=1\n")
    pytester.makepyfile(test_inner=INNER_TEST)
    monkeypatch.setenv("KAVACH_RATE_LIMIT", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO))


@pytest.mark.usefixtures("started_beside_a_dotenv")
def test_a_dotenv_and_a_variable_where_pytest_starts_change_nothing(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


@pytest.mark.usefixtures("started_beside_a_dotenv")
def test_without_the_harness_the_same_dotenv_would_change_the_rate_limit(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 30*"])
