"""A `ConfigurationError` that nobody catches is told in one line; everything else as before."""

from __future__ import annotations

import sys
from types import TracebackType

import pytest

from kavach_fastapi import ConfigurationError, atlassian_provider, uncaught

Seen = list[tuple[type[BaseException], BaseException, TracebackType | None]]


@pytest.fixture
def previous_hook(monkeypatch: pytest.MonkeyPatch) -> Seen:
    """A stand-in for Python's own hook, recording what reaches it; the module starts fresh."""
    seen: Seen = []

    def record(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        seen.append((kind, value, tb))

    monkeypatch.setattr(sys, "excepthook", record)
    monkeypatch.setattr(uncaught, "_installed", False)
    return seen


def test_an_uncaught_configuration_error_is_one_line_on_stderr(
    previous_hook: Seen, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        atlassian_provider(client_id="", client_secret="")

    sys.excepthook(ConfigurationError, raised.value, raised.tb)

    err = capsys.readouterr().err
    assert err.startswith("kavach: ATLASSIAN_CLIENT_ID and ATLASSIAN_CLIENT_SECRET not set.")
    assert err.count("\n") == 1
    assert previous_hook == []


def test_other_uncaught_exceptions_reach_the_previous_hook(previous_hook: Seen) -> None:
    with pytest.raises(ConfigurationError):
        atlassian_provider(client_id="", client_secret="")
    other = ValueError("not a setting")

    sys.excepthook(ValueError, other, None)

    assert previous_hook == [(ValueError, other, None)]


def test_the_hook_is_installed_once_however_often_settings_are_wrong(previous_hook: Seen) -> None:
    for _ in range(3):
        with pytest.raises(ConfigurationError):
            atlassian_provider(client_id="", client_secret="")
    hook = sys.excepthook

    with pytest.raises(ConfigurationError):
        atlassian_provider(client_id="", client_secret="")

    assert sys.excepthook is hook


def test_nothing_is_installed_while_the_settings_are_right(previous_hook: Seen) -> None:
    hook = sys.excepthook

    atlassian_provider(client_id="id", client_secret="secret")

    assert sys.excepthook is hook
