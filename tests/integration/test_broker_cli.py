"""`hub broker start | stop | status` as a user runs them, on a broker of its own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from hub.broker.local import LocalBroker, free_port, port_in_use
from hub.errors import BrokerError
from tests.support.paths import REPO

pytestmark = pytest.mark.kafka


def hub(env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "hub", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def broker_env(tmp_path):
    port, controller = free_port(), free_port()
    env = dict(os.environ, HUB_HOME=str(tmp_path / "home"), HUB_BROKER_PORT=str(port),
               HUB_CONTROLLER_PORT=str(controller), HUB_BROKER_HEAP="384m")
    env.pop("HUB_BOOTSTRAP_SERVERS", None)
    yield env, port, controller
    hub(env, "broker", "stop")


def test_start_twice_status_stop(broker_env):
    env, port, controller = broker_env
    first = hub(env, "broker", "start")
    assert first.returncode == 0, first.stderr
    assert f"broker started: 127.0.0.1:{port}" in first.stdout

    second = hub(env, "broker", "start")
    assert second.returncode == 0
    assert f"broker already running: 127.0.0.1:{port}" in second.stdout

    status = hub(env, "broker", "status")
    assert status.returncode == 0
    assert "running: pid" in status.stdout and f"127.0.0.1:{port}" in status.stdout
    assert env["HUB_HOME"] in status.stdout  # the data directory

    stop = hub(env, "broker", "stop")
    assert stop.returncode == 0 and "broker stopped" in stop.stdout
    assert not port_in_use(port) and not port_in_use(controller)

    after = hub(env, "broker", "status")
    assert after.returncode == 3 and "not running" in after.stdout
    assert "not running" in hub(env, "broker", "stop").stdout


def test_taken_port_is_a_clear_error(broker_env):
    env, port, _ = broker_env
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = hub(env, "broker", "start")
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already taken" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dying_broker_shows_the_tail_of_its_log(broker_env):
    env, _, _ = broker_env
    result = hub({**env, "HUB_BROKER_HEAP": "nonsense"}, "broker", "start")
    assert result.returncode == 1
    assert "the broker exited with code" in result.stderr
    assert "Invalid maximum heap size" in result.stderr  # from the broker's own output
    assert "not running" in hub(env, "broker", "status").stdout


def test_missing_java_is_a_clear_error(broker_env, tmp_path):
    env, _, _ = broker_env
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python3")
    result = hub({**env, "PATH": str(bin_dir)}, "broker", "start")
    assert result.returncode == 1
    assert "Java 17 or newer is needed" in result.stderr


def test_missing_maven_before_the_jars_are_resolved(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("java"), bin_dir / "java")
    monkeypatch.setenv("PATH", str(bin_dir))
    broker = LocalBroker(tmp_path, libs_root=tmp_path / "no-jars-yet")
    with pytest.raises(BrokerError, match=r"Maven \(`mvn`\) is not on PATH"):
        broker.ensure_jars(progress=lambda m: None)


def test_jars_are_resolved_once(kafka, tmp_path):
    broker = LocalBroker(tmp_path)  # the project's jar folder, resolved by the session broker
    messages = []
    broker.ensure_jars(progress=messages.append)
    assert messages == []  # already there: offline, no Maven
