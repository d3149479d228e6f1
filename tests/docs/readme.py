"""The README's sections, tables and commands, read as the tests that check them need them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.M | re.S)


def section(heading: str) -> str:
    """The README's text under ``heading``, up to the next heading of the same level or above."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}\n") + len(heading) + 2
    ends = [
        match.start()
        for match in re.finditer(rf"^#{{1,{len(level)}}} ", README, re.M)
        if match.start() >= start
    ]
    return README[start : min(ends, default=len(README))]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``text``, as lists of cells."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


def fences(text: str, lang: str) -> list[str]:
    """The bodies of the fenced blocks in ``lang`` in ``text``."""
    return [match["body"] for match in FENCE.finditer(text) if match["lang"] == lang]


def commands(text: str) -> list[list[str]]:
    """The shell commands of the ``bash`` blocks in ``text``, split into words, comments off."""
    return [
        shlex.split(line, comments=True)
        for body in fences(text, "bash")
        for line in body.splitlines()
        if shlex.split(line, comments=True)
    ]
