"""What ``hub demo`` starts: the local broker (unless one runs, or ``HUB_BOOTSTRAP_SERVERS``
names another), the worker (``hub run`` on the district's clock) and the demo's own metrics
endpoint; and how they stop again, at the end or within :data:`STOP_WITHIN` seconds of the
first Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.demo.options import DemoOptions
from hub.demo.screen import say
from hub.errors import HubError
from hub.metrics import start_server
from hub.settings import Settings, write_new_key

STARTUP_SECONDS = 8.0  # real seconds between starting the worker and the first day
STOP_WITHIN = 28.0
"""Seconds from the first SIGTERM or Ctrl-C until the demo has exited, done or not."""


def ensure_demo_key(settings: Settings) -> Path:
    """The key file of the settings, or a demo key under HUB_HOME (created once)."""
    if settings.pseudonym_key_file:
        return settings.pseudonym_key_file
    path = settings.home / "demo-pseudonym.key"
    if not path.exists():
        write_new_key(path)
        say(f"demo pseudonymisation key created: {path}")
    return path


def launch_worker(settings: Settings, key_file: Path, clock: dict[str, str]
                  ) -> tuple[subprocess.Popen, Path]:
    """``hub run`` in its own session, its output appended to HUB_HOME/logs/worker.log."""
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "worker.log"
    env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=settings.bootstrap,
               HUB_PSEUDONYM_KEY_FILE=str(key_file), HUB_HOME=str(settings.home), **clock)
    with open(log_path, "ab") as log:
        # the demo's one worker routes and aggregates, whatever HUB_WORKER_ROLE says
        proc = subprocess.Popen([sys.executable, "-m", "hub", "run", "--role", "all"],
                                stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    return proc, log_path


def stop_process(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_ready(proc: subprocess.Popen, log_path: Path, offset: int, stop: threading.Event,
                     timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        text = log_path.read_text(errors="replace")[offset:]
        if "Worker]: Ready" in text:
            return
        if proc.poll() is not None:
            raise HubError(f"the worker stopped while starting; the end of {log_path}:\n"
                           + "\n".join(text.splitlines()[-15:]))
        if time.monotonic() > deadline:
            raise HubError(f"the worker did not become ready in {timeout:.0f} s; see {log_path}")
        stop.wait(0.5)


class DemoProcesses:
    """What one run of the demo started, which :meth:`shut_down` stops again."""

    def __init__(self, settings: Settings):
        from hub.broker.local import LocalBroker

        self.settings = settings
        self.broker = LocalBroker(settings.home, settings.broker_port,
                                  settings.controller_port, settings.kafka_libs_dir,
                                  settings.broker_heap)
        self.started_broker = False
        self.worker: subprocess.Popen | None = None
        self.server = None  # the demo's own metrics endpoint
        self.log_path = settings.home / "logs" / "worker.log"
        self.log_start = 0  # where this run's part of the worker log begins
        self.worker_url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        self.urls: list[str] = []  # the metrics endpoints, as the view names them

    def start_broker(self) -> None:
        if self.settings.bootstrap_servers:
            say(f"using the broker at {self.settings.bootstrap}")
            return
        status, self.started_broker = self.broker.start(progress=say)
        say(f"broker {'started' if self.started_broker else 'already running'} at "
            f"{status.bootstrap}")

    def start_worker(self, key_file: Path, options: DemoOptions, done: int) -> datetime:
        """Start ``hub run`` on the district's clock; returns when (real time) the clock
        stands at the start of day ``done``."""
        first = datetime.combine(options.start, datetime.min.time(), UTC) + timedelta(days=done)
        # the district's clock starts once the worker is up (it starts in a few seconds),
        # so that the first days are not published in one burst
        anchor = datetime.now(UTC) + timedelta(seconds=STARTUP_SECONDS)
        clock = {"HUB_CLOCK_START": first.isoformat(), "HUB_CLOCK_ANCHOR": anchor.isoformat(),
                 "HUB_CLOCK_SPEED": repr(options.speed)}
        if self.log_path.exists():
            self.log_start = self.log_path.stat().st_size
        self.worker, self.log_path = launch_worker(self.settings, key_file, clock)
        say(f"worker started (pid {self.worker.pid}, log {self.log_path})")
        return anchor

    def serve_metrics(self, port: int) -> None:
        """The demo's own endpoint (its connectors' metrics) on ``port`` unless 0; says where
        both are."""
        if self.settings.metrics_port:
            self.urls.append(f"worker {self.worker_url}")
        if port:
            self.server = start_server(self.settings.metrics_addr, port, "--metrics-port",
                                       "0 turns it off")
            self.urls.append(f"connectors http://127.0.0.1:{port}/metrics")
        say("metrics: " + ("  ".join(self.urls) or "off"))

    def wait_until_ready(self, stop: threading.Event) -> None:
        wait_until_ready(self.worker, self.log_path, self.log_start, stop)

    def check_worker(self) -> None:
        """A clear error once the worker has stopped."""
        if self.worker.poll() is not None:
            raise HubError(f"the worker stopped; see {self.log_path}")

    def set_deadline(self, _signal: str) -> None:
        """The first Ctrl-C or SIGTERM: the demo has STOP_WITHIN seconds to stop."""
        timer = threading.Timer(STOP_WITHIN, self.hard_stop)
        timer.daemon = True
        timer.start()

    def hard_stop(self) -> None:
        """The demo did not stop within STOP_WITHIN seconds (e.g. its broker is gone and
        a send waits for it): the worker is killed, the broker left as it is."""
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
        say(f"not stopped after {STOP_WITHIN:.0f} s: worker killed"
            + ("; the local broker may still run (`hub broker stop` stops it)"
               if self.started_broker else ""))
        os._exit(1)

    def shut_down(self) -> None:
        """Stop what this run started."""
        if self.server is not None:
            self.server.shutdown()
        if self.worker is not None:
            stop_process(self.worker, timeout=STOP_WITHIN - 3)  # it stops itself within 25 s
            say("worker stopped")
        if self.started_broker:
            self.broker.stop()
            say("broker stopped")
