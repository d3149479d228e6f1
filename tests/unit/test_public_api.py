"""The public surface: a change to ``kavach_fastapi.__all__`` must be a deliberate one."""

from __future__ import annotations

import importlib.util
import inspect
import re
import typing
from importlib import resources
from pathlib import Path

import kavach_fastapi
from kavach_fastapi import errors

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"


def _is_submodule(name: str) -> bool:
    return importlib.util.find_spec(f"kavach_fastapi.{name}") is not None


# The API reference pages are where each public name is documented on purpose (`::: kavach_fastapi.X`,
# one line a name), so a name added to or dropped from ``__all__`` without its page fails here.
PUBLIC_NAMES = sorted(
    name
    for page in REFERENCE.glob("*.md")
    for name in re.findall(r"^::: kavach_fastapi\.(\w+)$", page.read_text(), re.M)
    if not _is_submodule(name)
)


def test_the_reference_documents_names_to_compare_with() -> None:
    assert len(PUBLIC_NAMES) > 50
    assert "kavach_router" in PUBLIC_NAMES
    assert "testing" not in PUBLIC_NAMES  # a module of its own, documented but not in __all__


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert kavach_fastapi.__all__ == PUBLIC_NAMES


def test_public_names_are_sorted() -> None:
    assert kavach_fastapi.__all__ == sorted(kavach_fastapi.__all__)


def test_every_public_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from kavach_fastapi import *", namespace)  # noqa: S102 - a fixed import statement
    for name in PUBLIC_NAMES:
        assert getattr(kavach_fastapi, name) is namespace[name]


def test_star_import_brings_nothing_else() -> None:
    namespace: dict[str, object] = {}
    exec("from kavach_fastapi import *", namespace)  # noqa: S102 - a fixed import statement
    assert sorted(name for name in namespace if name != "__builtins__") == PUBLIC_NAMES


def test_contract_names_are_public() -> None:
    contract = (
        "kavach_router",
        "atlassian_provider",
        "current_user",
        "optional_user",
        "atlassian_sites",
        "atlassian_token",
        "CurrentUser",
        "OptionalUser",
        "AtlassianSites",
        "AtlassianToken",
        "User",
        "AtlassianSite",
        "KavachError",
        "open_kavach",
    )
    for name in contract:
        assert name in kavach_fastapi.__all__
    assert callable(kavach_fastapi.kavach_router)
    assert callable(kavach_fastapi.atlassian_provider)
    assert callable(kavach_fastapi.current_user)
    assert callable(kavach_fastapi.optional_user)
    assert callable(kavach_fastapi.atlassian_sites)
    assert callable(kavach_fastapi.atlassian_token)
    assert callable(kavach_fastapi.open_kavach)


def test_dependency_aliases_are_annotated_types() -> None:
    aliases = (
        kavach_fastapi.CurrentUser,
        kavach_fastapi.OptionalUser,
        kavach_fastapi.AtlassianSites,
        kavach_fastapi.AtlassianToken,
    )
    for alias in aliases:
        assert typing.get_origin(alias) is typing.Annotated


def test_every_public_exception_is_a_kavach_error() -> None:
    exported = [getattr(kavach_fastapi, name) for name in PUBLIC_NAMES]
    exceptions = [obj for obj in exported if isinstance(obj, type) and issubclass(obj, Exception)]
    assert exceptions
    for exc in exceptions:
        assert issubclass(exc, kavach_fastapi.KavachError)


def test_every_exception_of_the_errors_module_is_exported() -> None:
    defined = {
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.KavachError)
    }
    assert defined <= set(PUBLIC_NAMES)


def test_public_objects_say_they_come_from_the_package() -> None:
    for name in PUBLIC_NAMES:
        obj = getattr(kavach_fastapi, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("kavach_fastapi."), name


def test_package_is_typed() -> None:
    assert resources.files("kavach_fastapi").joinpath("py.typed").is_file()
