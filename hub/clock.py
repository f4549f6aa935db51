"""The hub's one clock. Production uses the system time; tests and the demo set a start
time and a speed, so that weeks of district life pass in minutes and no result depends on
today's date.

Settings: ``HUB_CLOCK_START`` (the simulated time at the anchor), ``HUB_CLOCK_ANCHOR`` (the
real time that corresponds to it; default: when the process starts) and
``HUB_CLOCK_SPEED`` (simulated seconds per real second; default 1). Processes that share
all three share one clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SetClock:
    """Simulated time: ``start`` at the real time ``anchor``, running ``speed`` times as fast."""

    def __init__(self, start: datetime, speed: float = 1.0, anchor: datetime | None = None,
                 real: Clock | None = None):
        self.real = real or SystemClock()
        self.start = _aware(start)
        self.anchor = _aware(anchor) if anchor else self.real.now()
        self.speed = speed

    def now(self) -> datetime:
        elapsed = (self.real.now() - self.anchor).total_seconds()
        return self.start + timedelta(seconds=elapsed * self.speed)


class FixedClock:
    """A clock that only moves when told to (unit tests)."""

    def __init__(self, at: datetime):
        self.at = _aware(at)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class HeldClock:
    """``clock``, read once per unit of work: between :meth:`hold` and :meth:`release`
    every ``now()`` is the time read at :meth:`hold`. The router holds it for each message,
    so that its decisions, audit records and facts carry one time, and the clock is read
    once per message instead of six times."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.held: datetime | None = None

    def now(self) -> datetime:
        held = self.held
        return self.clock.now() if held is None else held

    def hold(self) -> None:
        self.held = self.clock.now()

    def release(self) -> None:
        self.held = None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def clock_from_settings(settings) -> Clock:
    if settings.clock_start is None:
        return SystemClock()
    return SetClock(settings.clock_start, settings.clock_speed, settings.clock_anchor)


class Pacing:
    """Keeps a periodic pass of the worker over its state (a gauge count, the analytics
    publish) to a ``share`` of its time: after a pass that took ``t`` seconds, the next is
    due ``t * (1 / share - 1)`` seconds later at the earliest, whatever the timer's interval.
    A pass whose cost grows with the state then runs less often instead of taking more and
    more of the time the events need."""

    def __init__(self, share: float = 0.05, monotonic=None):
        import time

        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        self.share = share
        self.monotonic = monotonic or time.monotonic
        self.next_due = 0.0
        self.skipped = 0

    def due(self) -> bool:
        if self.monotonic() >= self.next_due:
            return True
        self.skipped += 1
        return False

    def ran(self, started: float) -> None:
        """Note a pass that began at ``started`` (of ``monotonic``) and ends now."""
        now = self.monotonic()
        self.next_due = now + (now - started) * (1 / self.share - 1)
