"""The Testing page's example test file passes in a project of its own, with no conftest.py."""

from __future__ import annotations

import pytest

from .conftest import EXAMPLES


def test_example_test_file_passes_with_the_plugin_fixtures(pytester: pytest.Pytester) -> None:
    example = EXAMPLES / "test_my_app.py"
    pytester.makepyfile(test_my_app=example.read_text())
    pytester.makeini("[pytest]\nfilterwarnings = error\n")

    # A user's project may not have pytest-asyncio; the example needs nothing but the plugin.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-q")

    result.assert_outcomes(passed=example.read_text().count("\ndef test_"))
