"""The session's broker environment and ``hub run`` worker, as the fixtures in
tests/conftest.py build them and the broker tests use them."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hub.broker.local import LocalBroker, free_port
from tests.support.clock import (
    CLOCK_ANCHOR,
    CLOCK_START,
    HOLD_WINDOW_SECONDS,
    REVIEW_WINDOW_SECONDS,
)
from tests.support.paths import REPO
from tests.support.waiting import wait_for


@dataclass(frozen=True)
class KafkaEnv:
    """The session's broker and the environment a ``hub`` process needs to use it."""

    broker: LocalBroker
    home: Path
    key_file: Path

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "HUB_HOME": str(self.home),
            "HUB_BOOTSTRAP_SERVERS": self.bootstrap,
            "HUB_BROKER_PORT": str(self.broker.port),
            "HUB_CONTROLLER_PORT": str(self.broker.controller_port),
            "HUB_PSEUDONYM_KEY_FILE": str(self.key_file),
            "HUB_CLOCK_START": CLOCK_START,
            "HUB_CLOCK_ANCHOR": CLOCK_ANCHOR.isoformat(),
            "HUB_HOLD_WINDOW_HOURS": str(HOLD_WINDOW_SECONDS / 3600),
            # children of different tests alike (tags in their names) may be possible
            # matches: their held events wait a minute for the trust office, not two weeks
            "HUB_LINKAGE_REVIEW_DAYS": str(REVIEW_WINDOW_SECONDS / 86400),
            **extra,
        }

    def hub(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        """Run the real ``hub`` command against the session broker."""
        return subprocess.run(
            [sys.executable, "-m", "hub", *args], env=self.env(**extra), cwd=REPO,
            capture_output=True, text=True, timeout=timeout,
        )


class Worker:
    """The session's `hub run` worker; tests may kill and restart it."""

    def __init__(self, env: KafkaEnv, log: Path, role: str | None = None):
        self.env = env
        self.log = log
        self.role = role  # hub run --role; None: the default (all)
        self.proc: subprocess.Popen | None = None
        self.metrics_port = free_port()
        self._start_at = 0  # where this start's lines begin in the log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def start(self, timeout: float = 120) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (then :meth:`wait_ready`)."""
        self._start_at = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "run",
                 *(["--role", self.role] if self.role else [])], cwd=REPO,
                env=self.env.env(HUB_METRICS_PORT=str(self.metrics_port)),
                stdout=out, stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        def ready():
            return "Worker]: Ready" in self.log_text()[self._start_at:] \
                or self.proc.poll() is not None

        wait_for(ready, timeout, "the worker to become ready")
        assert self.proc.poll() is None, f"worker exited:\n{self.log_text()[-3000:]}"

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no flush."""
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


SESSION_WORKERS: list[Worker] = []
"""The workers running now; when a test that uses the session's worker fails, its report
shows their stacks and the end of their logs (tests/conftest.py)."""
