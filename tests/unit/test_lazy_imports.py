"""``import kavach_fastapi`` is cheap: public names load on first use (PEP 562)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import kavach_fastapi

INIT = Path(kavach_fastapi.__file__)


def type_checking_imports() -> dict[str, str]:
    """The names the ``if TYPE_CHECKING:`` block of ``__init__`` imports, with their module."""
    tree = ast.parse(INIT.read_text())
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    found: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        for alias in node.names:
            found[alias.asname or alias.name] = str(node.module)
    return found


def test_every_name_in_all_resolves_to_an_object_of_its_home_module() -> None:
    for name in kavach_fastapi.__all__:
        home = importlib.import_module(f"kavach_fastapi.{kavach_fastapi._HOMES[name]}")
        assert getattr(kavach_fastapi, name) is getattr(home, name), name


def test_the_type_checking_imports_name_the_same_homes_as_the_lazy_loader() -> None:
    assert type_checking_imports() == kavach_fastapi._HOMES
    assert sorted(kavach_fastapi._HOMES) == kavach_fastapi.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        kavach_fastapi.NoSuchThing  # noqa: B018


def test_the_version_is_a_plain_string() -> None:
    assert isinstance(kavach_fastapi.__version__, str)
    assert kavach_fastapi.__version__.count(".") >= 2


def test_importing_the_package_and_its_pytest_plugins_loads_no_framework() -> None:
    probe = (
        "import sys, kavach_fastapi, kavach_fastapi.pytest_plugin, "
        "kavach_fastapi.emulator.pytest_plugin\n"
        "heavy = ('fastapi', 'starlette', 'sqlalchemy', 'sqlmodel', 'alembic', 'authlib', "
        "'pydantic', 'httpx2', 'cryptography')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    loaded = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
