"""The router's keyword options are the settings' fields: written once, checked here."""

from __future__ import annotations

import typing

from kavach_fastapi import KavachSettings, kavach_router, open_kavach
from kavach_fastapi.options import CODE_OPTIONS, KavachOptions, option_type


def test_the_options_are_exactly_the_settings_fields_and_the_code_options() -> None:
    assert set(KavachOptions.__annotations__) == set(KavachSettings.model_fields) | CODE_OPTIONS
    assert not CODE_OPTIONS & set(KavachSettings.model_fields)


def test_each_option_has_the_type_of_its_settings_field() -> None:
    hints = typing.get_type_hints(KavachOptions)
    for name, field in KavachSettings.model_fields.items():
        assert hints[name] == option_type(field.annotation), name


def test_every_option_is_optional() -> None:
    assert KavachOptions.__required_keys__ == frozenset()


def test_the_router_takes_the_options_as_keywords() -> None:
    parameters = typing.get_type_hints(kavach_router, include_extras=True)
    assert "options" in parameters
    assert typing.get_args(parameters["options"]) == (KavachOptions,)


def test_open_kavach_takes_the_same_options_as_the_router() -> None:
    # open_kavach is wrapped by asynccontextmanager; its own signature is the wrapped one.
    parameters = typing.get_type_hints(open_kavach.__wrapped__, include_extras=True)  # type: ignore[attr-defined]
    assert typing.get_args(parameters["options"]) == (KavachOptions,)
