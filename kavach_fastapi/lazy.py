"""Public names of a package that load on first use (PEP 562), for its ``__getattr__``.

Only the standard library: the package ``__init__`` modules that use it, the emulator's
among them, stay as cheap to import as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def load_on_first_use(namespace: dict[str, Any], homes: Mapping[str, str], name: str) -> Any:
    """Import ``name`` from its home submodule and keep it in the package's ``namespace``.

    Args:
        namespace: the package's ``globals()``; later look-ups find the name there and skip
            the package's ``__getattr__``.
        homes: the submodule (relative to the package) each public name lives in.
        name: the attribute asked for.

    Raises:
        AttributeError: ``name`` is none of ``homes``.
    """
    package = namespace["__name__"]
    home = homes.get(name)
    if home is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{package}.{home}"), name)
    namespace[name] = value
    return value
