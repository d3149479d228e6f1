"""Loading settings that must be refused: the ConfigurationError, for its message to be read."""

from __future__ import annotations

from typing import Any

import pytest

from kavach_fastapi.errors import ConfigurationError
from kavach_fastapi.settings import load_settings

__all__ = ["refusal"]


def refusal(settings_class: type[Any], *naming: str, **overrides: Any) -> ConfigurationError:
    """The error ``load_settings(settings_class, **overrides)`` raises, its message naming each of
    ``naming`` (the test fails if nothing is raised or a name is missing)."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(settings_class, **overrides)
    for words in naming:
        assert words in caught.value.message
    return caught.value
