"""Waiting for something a hub process does."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """The first true value of ``condition()``, asked every ``interval`` seconds; an
    AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
