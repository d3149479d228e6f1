"""Reading the recorded answers, and checking a JSON value against a recorded shape.

A shape is either a type name (``"string"``, ``"integer"``, ``"boolean"``, ``"object"``,
``"array"``, ``"null"``, or several joined by ``|``) or an object:

* ``{"type": "object", "fields": {...}, "optional": {...}}``: every field must be there with
  its shape, optional ones are checked when present, other fields are allowed (Atlassian adds
  fields; an app must not break on them);
* ``{"type": "array", "items": SHAPE}``;
* ``{"type": "string", "enum": [...]}``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


@cache
def _load(name: str) -> str:
    return (DATA / f"{name}.json").read_text()


def recorded(name: str) -> Any:
    """A fresh copy of ``data/<name>.json``."""
    return json.loads(_load(name))


def _is(value: Any, type_name: str) -> bool:
    if type_name in ("integer", "number") and isinstance(value, bool):
        return False
    return any(isinstance(value, _TYPES[name]) for name in type_name.split("|"))


def shape_errors(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Where ``value`` differs from ``shape``; empty when it conforms."""
    if isinstance(shape, str):
        return [] if _is(value, shape) else [f"{path}: {value!r} is not {shape}"]
    if not _is(value, shape["type"]):
        return [f"{path}: {value!r} is not {shape['type']}"]
    errors: list[str] = []
    if "enum" in shape and value not in shape["enum"]:
        errors.append(f"{path}: {value!r} is not one of {shape['enum']}")
    if shape["type"] == "array" and "items" in shape:
        for index, item in enumerate(value):
            errors += shape_errors(item, shape["items"], f"{path}[{index}]")
    if shape["type"] == "object":
        for field, field_shape in shape.get("fields", {}).items():
            if field not in value:
                errors.append(f"{path}.{field}: missing")
            else:
                errors += shape_errors(value[field], field_shape, f"{path}.{field}")
        for field, field_shape in shape.get("optional", {}).items():
            if field in value:
                errors += shape_errors(value[field], field_shape, f"{path}.{field}")
    return errors
