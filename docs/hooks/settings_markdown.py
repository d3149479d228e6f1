"""The configuration page: every setting, from the fields of the settings classes."""

from __future__ import annotations

import datetime as dt
import inspect
import logging

from annotated_types import Ge, Gt, Le, Lt
from docs_text import escape_table, first_paragraph, first_sentence
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from kavach_fastapi import AtlassianSettings, KavachSettings, atlassian_provider
from kavach_fastapi.options import KavachOptions

log = logging.getLogger("mkdocs.hooks.kavach_docs")


def settings_reference() -> str:
    """Every setting of both settings classes, as a summary table and one section each."""
    groups: list[tuple[type[BaseSettings], str, set[str], str]] = [
        (
            AtlassianSettings,
            "atlassian_provider",
            set(inspect.signature(atlassian_provider).parameters),
            "The Atlassian app",
        ),
        (
            KavachSettings,
            "kavach_router",
            set(KavachOptions.__annotations__),
            "Users, sessions and tokens",
        ),
    ]
    summary = ["| variable | default | meaning |", "| --- | --- | --- |"]
    sections: list[str] = []
    for cls, factory, keywords, title in groups:
        sections.append(f"## {title}\n\n{first_paragraph(cls.__doc__)}\n")
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, field in cls.model_fields.items():
            variable = f"{prefix}{name.upper()}"
            description = field.description or ""
            if not description:
                log.warning(
                    "%s.%s has no docstring for the docs", cls.__name__, name
                )
            default, anchor = _default(field), variable.lower()
            summary.append(
                f"| [`{variable}`](#{anchor}) | {default} | {first_sentence(description)} |"
            )
            lines = [
                f"### `{variable}` {{#{anchor}}}",
                "",
                escape_table(description),
                "",
                f"- **Default:** {default}",
                f"- **Type:** {_type(field)}",
            ]
            if name in keywords:
                lines.append(f"- **Keyword argument:** `{factory}({name}=...)`")
            sections.append("\n".join(lines) + "\n")
    table = (
        '<div class="kavach-settings" markdown>\n\n'
        + "\n".join(summary)
        + "\n\n</div>\n"
    )
    return table + "\n" + "\n".join(sections)


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{' '.join(str(item) for item in value)}`" if value else "none"
    if isinstance(value, dt.timedelta):
        return f"`{int(value.total_seconds())}` ({_human(value)})"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _human(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


# What a reader may write for a field, by the first of these type names its annotation
# mentions, the more particular first: ``timedelta | None`` is a duration, ``tuple[str, ...]`` a list.
_KINDS = (
    ("timedelta", "duration: seconds (`3600`) or ISO 8601 (`PT1H`)"),
    ("SecretStr", "secret text"),
    ("tuple", "list of text"),
    ("bool", "`true` or `false`"),
    ("int", "whole number"),
    ("float", "number of seconds"),
)


def _type(field: FieldInfo) -> str:
    annotation = str(field.annotation)
    bounds = []
    for item in field.metadata:
        if isinstance(item, Ge):
            bounds.append(f"at least {_bound(item.ge)}")
        elif isinstance(item, Gt):
            bounds.append(f"more than {_bound(item.gt)}")
        elif isinstance(item, Le):
            bounds.append(f"at most {_bound(item.le)}")
        elif isinstance(item, Lt):
            bounds.append(f"less than {_bound(item.lt)}")
    kind = next((kind for marker, kind in _KINDS if marker in annotation), "text")
    return ", ".join([kind, *bounds])


def _bound(value: object) -> str:
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        return f"`{seconds}`" if seconds == 0 else f"`{seconds}` ({_human(value)})"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"
