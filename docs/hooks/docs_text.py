"""Small helpers for generated Markdown: first sentences of docstrings, table cells."""

from __future__ import annotations

import inspect


def escape_table(text: str) -> str:
    """Text that can stand in a cell of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", " ")


def first_paragraph(text: str | None) -> str:
    return " ".join(inspect.cleandoc(text or "").split("\n\n", 1)[0].split())


def first_sentence(text: str) -> str:
    """The first sentence or clause of a docstring, for a summary column."""
    first = first_paragraph(text)
    in_code = False
    for index, char in enumerate(first):
        if char == "`":
            in_code = not in_code
        elif in_code:
            continue
        elif char == ";" or (
            char == "." and first[index + 1 : index + 3].strip()[:1].isupper()
        ):
            first = first[:index]
            break
    return escape_table(first.rstrip(":;. "))
