"""Progress of a long command: a bar on a terminal, a plain line now and then otherwise."""

from __future__ import annotations

from typing import TextIO

BAR_WIDTH = 30
LINES = 10
"""Outside a terminal (cron, a log file), about this many progress lines per run."""


class ProgressReport:
    """Shows ``done/total`` on ``stream``: a redrawn bar on a TTY, plain lines otherwise.

    Args:
        stream: where to write (standard error, so standard output stays the result).
        label: what is being done.
    """

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = False

    def update(self, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` items are finished."""
        if total <= 0:
            return
        if self._tty:
            filled = BAR_WIDTH * done // total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self._stream.write(f"\r{self._label} [{bar}] {done}/{total}")
            self._drawn = True
        elif done == total or done % max(1, total // LINES) == 0:
            self._stream.write(f"{self._label}: {done}/{total}\n")
        self._stream.flush()

    def finish(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
