"""The options of ``hub demo``: which district, how long, how fast, and how it is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_START = date(2026, 9, 7)  # a Monday: the first school weeks after the summer


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 1
    families: int = 400
    weeks: float = 12.0
    speed: float = 43200.0  # simulated seconds per real second: a day every 2 s
    start: date = DEFAULT_START
    fresh: bool = False
    keep: bool = False
    metrics_port: int = 9311  # the demo's own endpoint: its connectors' metrics
    live: bool | None = None  # a redrawn screen; None: when stdout is a terminal

    @property
    def days(self) -> int:
        return max(1, round(self.weeks * 7))
