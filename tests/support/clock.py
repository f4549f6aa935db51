"""The hub's clock in every test process: no test depends on today's date. Every process of
the session shares one clock (same start, same anchor), also across worker restarts."""

from __future__ import annotations

from datetime import UTC, datetime

CLOCK_START = "2026-11-24T12:00:00+00:00"
CLOCK_ANCHOR = datetime.now(UTC)
HOLD_WINDOW_SECONDS = 20
REVIEW_WINDOW_SECONDS = 60  # a possible match waits for the trust office (the linkage tests)


def hub_now() -> datetime:
    """What the session's hub clock shows now."""
    return datetime.fromisoformat(CLOCK_START) + (datetime.now(UTC) - CLOCK_ANCHOR)
