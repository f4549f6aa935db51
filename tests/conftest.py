"""Shared fixtures. Tests marked ``kafka`` run against one real local broker per session,
started on free ports in a temporary HUB_HOME (a developer's own broker is never touched).
``make test`` runs the suite in two processes (pytest-xdist, a test file at a time in one of
them): each is a session of its own, with its own broker and worker.
The helpers the tests share live in tests/support/; this file holds fixtures and hooks only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.broker.local import LocalBroker, free_port
from hub.errors import BrokerError
from hub.settings import PseudonymKey
from tests.support.faust_patches import faust_restored
from tests.support.paths import REPO
from tests.support.session import SESSION_WORKERS, KafkaEnv, Worker


def pytest_sessionstart(session) -> None:
    """Resolve the broker's jars once, before the test processes start (they would each
    resolve them into the same folder at the same time); nothing to do once resolved."""
    if hasattr(session.config, "workerinput"):  # a test process of pytest-xdist
        return
    try:
        LocalBroker(REPO).ensure_jars(progress=lambda message: print(message, flush=True))
    except BrokerError:
        pass  # no Maven: the broker fixture says so to the tests that need it, if any run


@pytest.fixture(scope="session")
def key_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("key") / "pseudonym.key"
    path.write_text("0123456789abcdef" * 4 + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def pseudonym_key(key_file) -> PseudonymKey:
    return PseudonymKey.from_file(key_file)


@pytest.fixture
def restore_faust():
    """For a test that installs :mod:`hub.faust.patches` (or patches Faust otherwise):
    Faust's classes and the patches' state are put back as they were once the test is
    done."""
    with faust_restored():
        yield


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


@pytest.fixture(scope="session")
def worker(topics, tmp_path_factory) -> Worker:
    """One `hub run` worker for the session, ready before the first test uses it."""
    w = Worker(topics, tmp_path_factory.mktemp("worker") / "worker.log")
    w.start()
    SESSION_WORKERS.append(w)
    try:
        yield w
    finally:
        SESSION_WORKERS.remove(w)
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
    for w in SESSION_WORKERS:
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
