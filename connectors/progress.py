"""A progress bar for long work, on stderr; quiet lines instead of a bar when not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 min_total: int = 5000):
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = total >= min_total
        self.tty = self.stream.isatty()
        self.done = 0
        self._last_draw = 0.0
        self._last_decile = 0
        self._started = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.2:
                self._last_draw = now
                self._draw()
        else:
            decile = min(10, self.done * 10 // self.total)
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {decile * 10}% ({self.done:,} of "
                                  f"~{self.total:,})\n")
                self.stream.flush()

    def _draw(self) -> None:
        share = min(1.0, self.done / self.total)
        filled = int(share * 30)
        rate = self.done / max(time.monotonic() - self._started, 1e-6)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                          f"{share:4.0%} {self.done:,}/~{self.total:,} rows, {rate:,.0f}/s ")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
