"""Ctrl-C and SIGTERM for the commands that run until stopped (``hub deliver``, ``hub demo``):
the first asks for a clean stop, a second one interrupts at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(stop: threading.Event,
                    on_first: Callable[[str], None] | None = None) -> Iterator[None]:
    """Within the block, the first SIGINT or SIGTERM sets ``stop`` and calls ``on_first``
    with the signal's name (to say so, or to set a deadline); the next one, of either kind,
    raises :class:`KeyboardInterrupt` in the main thread. The handlers that were installed
    before are back when the block ends. Main thread only (as :func:`signal.signal`)."""
    asked = threading.Event()

    def handle(signum, frame):
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()
        stop.set()
        if on_first is not None:
            on_first(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
