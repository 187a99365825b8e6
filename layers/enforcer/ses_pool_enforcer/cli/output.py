"""Terminal output: aligned tables, CSV and JSON, and a progress indicator on stderr."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, headers in capitals."""
    body = [[str(cell) for cell in row] for row in rows]
    head = [h.upper() for h in headers]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [head, *body]
    ]
    return "\n".join(lines) + "\n"


def json_text(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def duration(seconds: float) -> str:
    """``45 s``, ``7 min``, ``2 h 47 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


class Progress:
    """``[#####     ] 120/400 sets`` redrawn in place on a terminal; elsewhere (a log, a
    pipe) a plain line every ``interval`` seconds, and a last one if any was written."""

    WIDTH = 30

    def __init__(
        self,
        total: int,
        label: str,
        stream: TextIO,
        *,
        interval: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval
        self._clock = clock
        self._last = clock()
        self._lines = 0
        if self._tty:
            self._draw()

    def advance(self, step: int = 1) -> None:
        self.done += step
        if self._tty:
            self._draw()
        elif self._clock() - self._last >= self._interval:
            self._line()

    def close(self) -> None:
        if self._tty:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
        elif self._lines:
            self._line()

    def _draw(self) -> None:
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        bar = "#" * filled + " " * (self.WIDTH - filled)
        self._stream.write(f"\r[{bar}] {self.done}/{self.total} {self.label}")
        self._stream.flush()

    def _line(self) -> None:
        self._last = self._clock()
        self._lines += 1
        self._stream.write(f"{self.done}/{self.total} {self.label}\n")
        self._stream.flush()
