"""Shared fixtures. Tests marked ``kafka`` run against one real local broker per session,
started on free ports in a temporary HUB_HOME (a developer's own broker is never touched)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.broker.local import LocalBroker, free_port
from hub.settings import PseudonymKey

REPO = Path(__file__).resolve().parent.parent
# The hub's clock in every test process: no test depends on today's date. Every process of
# the session shares one clock (same start, same anchor), also across worker restarts.
CLOCK_START = "2026-11-24T12:00:00+00:00"
CLOCK_ANCHOR = datetime.now(UTC)
HOLD_WINDOW_SECONDS = 20


def hub_now() -> datetime:
    """What the session's hub clock shows now."""
    return datetime.fromisoformat(CLOCK_START) + (datetime.now(UTC) - CLOCK_ANCHOR)


@pytest.fixture(scope="session")
def key_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("key") / "pseudonym.key"
    path.write_text("0123456789abcdef" * 4 + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def pseudonym_key(key_file) -> PseudonymKey:
    return PseudonymKey.from_file(key_file)


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
            **extra,
        }

    def hub(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        """Run the real ``hub`` command against the session broker."""
        return subprocess.run(
            [sys.executable, "-m", "hub", *args], env=self.env(**extra), cwd=REPO,
            capture_output=True, text=True, timeout=timeout,
        )


@pytest.fixture(scope="session")
def kafka(tmp_path_factory, key_file) -> KafkaEnv:
    home = tmp_path_factory.mktemp("hub-home")
    broker = LocalBroker(home, port=free_port(), controller_port=free_port(), heap="768m")
    broker.start(progress=lambda message: None)
    try:
        yield KafkaEnv(broker, home, key_file)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def topics(kafka) -> KafkaEnv:
    """The session broker with every topic of deploy/topics.yaml applied."""
    result = kafka.hub("topics", "apply")
    assert result.returncode == 0, result.stderr
    return kafka


class Worker:
    """The session's `hub run` worker; tests may kill and restart it."""

    def __init__(self, env: KafkaEnv, log: Path):
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.metrics_port = free_port()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def start(self, timeout: float = 120) -> None:
        start_at = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "run"], cwd=REPO,
                env=self.env.env(HUB_METRICS_PORT=str(self.metrics_port)),
                stdout=out, stderr=subprocess.STDOUT,
            )

        def ready():
            return "Worker]: Ready" in self.log_text()[start_at:] or self.proc.poll() is not None

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


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


_SESSION_WORKERS: list[Worker] = []


@pytest.fixture(scope="session")
def worker(topics, tmp_path_factory) -> Worker:
    """One `hub run` worker for the session, ready before the first test uses it."""
    w = Worker(topics, tmp_path_factory.mktemp("worker") / "worker.log")
    w.start()
    _SESSION_WORKERS.append(w)
    try:
        yield w
    finally:
        _SESSION_WORKERS.remove(w)
        w.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test that uses the session's worker fails, its report shows where the worker
    is (every thread's and asyncio task's stack, via SIGQUIT/SIGUSR1/SIGUSR2) and the end
    of its log: a failure on a CI machine can be understood without running it again."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "worker" not in item.fixturenames:
        return
    for w in _SESSION_WORKERS:
        if w.proc and w.proc.poll() is None:
            sizes = [len(w.log_text())]
            w.proc.send_signal(signal.SIGQUIT)
            w.proc.send_signal(signal.SIGUSR1)
            w.proc.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (len(sizes) < 3 or sizes[-1] == sizes[0]
                                                   or sizes[-1] != sizes[-3]):
                time.sleep(0.5)  # until the worker has written its dumps
                sizes.append(len(w.log_text()))
        tail = "\n".join(w.log_text().splitlines()[-400:])
        report.sections.append(("session worker: the end of its log", tail))


@pytest.fixture
def demo_env(tmp_path):
    """The environment of a `hub demo` with a broker of its own (free ports, its own
    HUB_HOME, the demo's own clock); the broker is stopped afterwards whatever happened."""
    port, controller = free_port(), free_port()
    env = dict(os.environ, HUB_HOME=str(tmp_path / "home"), HUB_BROKER_PORT=str(port),
               HUB_CONTROLLER_PORT=str(controller), HUB_BROKER_HEAP="384m",
               HUB_METRICS_PORT=str(free_port()))
    for name in ("HUB_BOOTSTRAP_SERVERS", "HUB_PSEUDONYM_KEY_FILE", "HUB_CLOCK_START",
                 "HUB_CLOCK_ANCHOR", "HUB_CLOCK_SPEED"):
        env.pop(name, None)
    yield env, port
    subprocess.run([sys.executable, "-m", "hub", "broker", "stop"], env=env, cwd=REPO,
                   capture_output=True, timeout=120)
