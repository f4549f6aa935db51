"""Shared fixtures. Tests marked ``kafka`` run against one real local broker per session,
started on free ports in a temporary HUB_HOME (a developer's own broker is never touched)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.broker.local import LocalBroker, free_port
from hub.settings import PseudonymKey

REPO = Path(__file__).resolve().parent.parent


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
        return dict(
            os.environ,
            HUB_HOME=str(self.home),
            HUB_BOOTSTRAP_SERVERS=self.bootstrap,
            HUB_BROKER_PORT=str(self.broker.port),
            HUB_CONTROLLER_PORT=str(self.broker.controller_port),
            HUB_PSEUDONYM_KEY_FILE=str(self.key_file),
            **extra,
        )

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


@dataclass
class Worker:
    proc: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def worker(topics, tmp_path_factory) -> Worker:
    """One ``hub run`` worker for the session, ready before the first test uses it."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "run"], env=topics.env(), cwd=REPO,
            stdout=out, stderr=subprocess.STDOUT,
        )
    w = Worker(proc, log)
    try:
        wait_for(lambda: "Worker]: Ready" in w.log_text() or proc.poll() is not None,
                 90, "the worker to become ready")
        assert proc.poll() is None, f"worker exited:\n{w.log_text()[-3000:]}"
        yield w
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
