"""The recorded data itself: every item names its source, and every sample fits its shape."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .recorded import DATA, recorded, shape_errors

NAMES = sorted(path.stem for path in DATA.glob("*.json"))


def _items_without_source(node: Any, inherited: bool, path: str) -> list[str]:
    if isinstance(node, list):
        return [
            missing
            for index, item in enumerate(node)
            for missing in _items_without_source(item, inherited, f"{path}[{index}]")
        ]
    if not isinstance(node, dict):
        return []
    has_source = inherited or bool(node.get("source"))
    # A recorded answer, error or value is an item: it must carry a source or sit in one.
    is_item = any(key in node for key in ("body", "status", "value", "accepts", "table"))
    missing = [path] if is_item and not has_source else []
    for key, value in node.items():
        if key not in ("body", "expect", "fields", "optional", "items"):
            missing += _items_without_source(value, has_source, f"{path}.{key}")
    return missing


@pytest.mark.parametrize("name", NAMES)
def test_every_recorded_item_names_its_public_source(name: str) -> None:
    assert _items_without_source(recorded(name), False, name) == []


@pytest.mark.parametrize("name", NAMES)
def test_no_source_is_left_vague(name: str) -> None:
    sources: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "source":
                    sources.extend(value if isinstance(value, list) else [value])
                else:
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(recorded(name))
    assert sources
    for source in sources:
        assert re.match(r"^(https://|github:|from \.\./shared/atlassian-3lo\.md)", source), source


@pytest.mark.parametrize("name", ["me", "accessible_resources"])
def test_every_recorded_sample_fits_the_recorded_shape(name: str) -> None:
    data = recorded(name)

    for variant in data["variants"]:
        if "partial" not in variant:
            assert shape_errors(variant["body"], data["shape"]["body"]) == [], variant["name"]


def test_the_shape_check_notices_a_missing_field_a_wrong_type_and_a_stray_value() -> None:
    shape = recorded("me")["shape"]["body"]
    sample = recorded("me")["variants"][0]["body"]
    del sample["account_id"]
    sample["name"] = 3
    sample["account_type"] = "robot"

    assert shape_errors(sample, shape) == [
        "$.account_id: missing",
        "$.account_type: 'robot' is not one of ['atlassian', 'app', 'customer']",
        "$.name: 3 is not string",
    ]
