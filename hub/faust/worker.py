"""The worker process as Faust runs it (``hub run``), with the two of its hooks the hub
overrides: mode's private signal handlers (a stop that never takes longer than
:data:`STOP_WITHIN` seconds) and the root logger's set-up (the Kafka client's connection
errors summarised, :mod:`hub.connectivity`). Both hooks are checked at start-up
(:mod:`hub.faust.checks`)."""

from __future__ import annotations

import os
import sys
import time

import faust

STOP_WITHIN = 25.0
"""Seconds from the first SIGTERM or Ctrl-C until the worker exits, done or not (within
Kubernetes' default grace period of 30 s)."""


class HubWorker(faust.Worker):
    """Faust's worker, with the Kafka client's connection errors summarised
    (:mod:`hub.connectivity`) and a stop that never takes longer than
    :data:`STOP_WITHIN` seconds: Faust's own stop commits what it can, but waits for the
    broker as long as it takes (a worker stopped while its broker was gone ran on for
    half an hour). After :data:`STOP_WITHIN` seconds, or at a second signal, the worker
    exits without waiting further; what it did not commit is read again at the next
    start, and the inboxes' records keep anything from being delivered twice."""

    def __init__(self, app, watch, *args, **kwargs):
        super().__init__(app, *args, **kwargs)
        self.watch = watch
        self._stop_asked: float | None = None

    def on_setup_root_logger(self, logger, level: int) -> None:
        from hub.connectivity import ClientNoise

        super().on_setup_root_logger(logger, level)
        noise = ClientNoise(self.watch)
        for handler in logger.handlers:
            handler.addFilter(noise)

    def _on_sigint(self) -> None:
        self._stopping("Ctrl-C")
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        self._stopping("SIGTERM")
        super()._on_sigterm()

    def _stopping(self, why: str) -> None:
        import threading

        if self._stop_asked is not None:
            self._exit_now(f"{why} again: stopping at once")
        self._stop_asked = time.monotonic()
        print(f"hub run: {why}: stopping (committing what can be committed; the worker "
              f"exits within {STOP_WITHIN:.0f} s whatever the broker does)",
              file=sys.stderr, flush=True)
        timer = threading.Timer(STOP_WITHIN, self._exit_now,
                                args=(f"not stopped after {STOP_WITHIN:.0f} s",))
        timer.daemon = True
        timer.start()

    def _exit_now(self, why: str) -> None:
        down = ", ".join(sorted(self.watch.down_since)) or None
        print(f"hub run: {why}" + (f" (Kafka unreachable: {down})" if down else "")
              + "; exiting without waiting for the broker. What was not committed is read "
              "again at the next start and not delivered twice.", file=sys.stderr,
              flush=True)
        os._exit(1)
