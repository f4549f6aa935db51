"""The local three-broker cluster and the replication of the topics, without starting Kafka:
the nodes' configuration, the ports, the replication factor `auto` resolves to, and the
CLI's refusals that need no broker."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.agencies import load_agencies
from hub.broker.cluster import LocalCluster
from hub.broker.local import LocalBroker
from hub.broker.nodes import free_port, running_cluster
from hub.errors import BrokerError, ConfigError
from hub.settings import Settings
from hub.topics import (
    auto_replication_factor,
    min_insync_replicas,
    plan_topics,
    with_min_insync,
)
from tests.support.paths import REPO


def properties(node) -> dict[str, str]:
    return node._server_properties()


def test_every_node_is_broker_and_controller_of_one_quorum(tmp_path):
    cluster = LocalCluster(tmp_path, [101, 102, 103], [201, 202, 203])
    assert cluster.bootstrap == "127.0.0.1:101,127.0.0.1:102,127.0.0.1:103"
    for node_id, node in cluster.nodes.items():
        props = properties(node)
        assert props["process.roles"] == "broker,controller"
        assert props["node.id"] == str(node_id)
        assert props["controller.quorum.voters"] == (
            "1@127.0.0.1:201,2@127.0.0.1:202,3@127.0.0.1:203")
        assert props["listeners"] == (f"PLAINTEXT://127.0.0.1:{100 + node_id},"
                                      f"CONTROLLER://127.0.0.1:{200 + node_id}")
        assert props["log.dirs"] == str(tmp_path / "kafka-cluster" / f"node-{node_id}" / "data")
        for key in ("default.replication.factor", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor"):
            assert props[key] == "3", key
        for key in ("min.insync.replicas", "transaction.state.log.min.isr"):
            assert props[key] == "2", key
        assert node.state_file == tmp_path / "kafka-cluster" / f"node-{node_id}" / "broker.json"


def test_a_silent_node_is_fenced_within_seconds_but_not_for_one_late_heartbeat(tmp_path):
    """A killed leader's partitions wait for the controller to fence it: the nodes of the
    local cluster set a session shorter than Kafka's 9 s, with several heartbeats in it."""
    for node in LocalCluster(tmp_path, [101, 102, 103], [201, 202, 203]).nodes.values():
        props = properties(node)
        session = int(props["broker.session.timeout.ms"])
        heartbeat = int(props["broker.heartbeat.interval.ms"])
        assert session < 9000
        assert session >= 4 * heartbeat
    assert "broker.session.timeout.ms" not in LocalBroker(tmp_path, 9092, 9093)._server_properties()


def test_the_single_broker_keeps_its_folder_and_settings(tmp_path):
    broker = LocalBroker(tmp_path, 9092, 9093)
    props = broker._server_properties()
    assert broker.dir == tmp_path / "kafka"
    assert broker.config_file == tmp_path / "kafka" / "server.properties"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["default.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"


def test_default_ports_do_not_collide_with_the_single_broker(monkeypatch, tmp_path):
    for name in ("HUB_CLUSTER_PORTS", "HUB_CLUSTER_CONTROLLER_PORTS", "HUB_BROKER_PORT",
                 "HUB_CONTROLLER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    settings = Settings()
    cluster = LocalCluster.for_settings(settings)
    ports = [p for n in cluster.nodes.values() for p in (n.port, n.controller_port)]
    assert ports == [19092, 19192, 19093, 19193, 19094, 19194]
    assert settings.broker_port not in ports and settings.controller_port not in ports


def test_ports_come_from_the_settings_and_are_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("HUB_CLUSTER_PORTS", "30001, 30002,30003")
    monkeypatch.setenv("HUB_CLUSTER_CONTROLLER_PORTS", "30101,30102,30103")
    cluster = LocalCluster.for_settings(Settings())
    assert cluster.bootstrap == "127.0.0.1:30001,127.0.0.1:30002,127.0.0.1:30003"
    monkeypatch.setenv("HUB_CLUSTER_CONTROLLER_PORTS", "30101,30102")
    with pytest.raises(BrokerError, match="HUB_CLUSTER_CONTROLLER_PORTS 2"):
        LocalCluster.for_settings(Settings())
    with pytest.raises(BrokerError, match="must all differ"):
        LocalCluster(tmp_path, [1, 2, 3], [3, 4, 5])


def test_a_made_cluster_keeps_its_ports(tmp_path):
    LocalCluster(tmp_path, [101, 102, 103], [201, 202, 203])._write_layout()
    made = LocalCluster.made_in(tmp_path)
    assert made.bootstrap == "127.0.0.1:101,127.0.0.1:102,127.0.0.1:103"
    assert made.voters == "1@127.0.0.1:201,2@127.0.0.1:202,3@127.0.0.1:203"
    assert LocalCluster.made_in(tmp_path / "elsewhere") is None
    with pytest.raises(BrokerError, match="made with other nodes or ports"):
        LocalCluster(tmp_path, [111, 112, 113], [211, 212, 213]).start(
            progress=lambda m: None)


def test_the_single_broker_is_refused_while_a_node_of_the_cluster_runs(tmp_path):
    """The single broker knows whether a node of the cluster runs from hub.broker.nodes,
    the same answer as the cluster's own status, without importing the cluster."""
    cluster = LocalCluster(tmp_path, [101, 102, 103], [201, 202, 203])
    cluster._write_layout()
    assert running_cluster(tmp_path) is None and not cluster.any_running()
    node = cluster.node(2)
    node.dir.mkdir(parents=True)
    # a process whose command line names the node's configuration, like a running node
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             str(node.config_file)])
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        for _ in range(200):  # until the child runs the command (not a fork of pytest)
            if str(node.config_file).encode() in cmdline.read_bytes():
                break
            time.sleep(0.01)
        node.state_file.write_text(json.dumps({"pid": proc.pid,
                                               "bootstrap": node.bootstrap}))
        assert cluster.any_running()
        assert running_cluster(tmp_path) == (3, cluster.bootstrap)
        with pytest.raises(BrokerError, match="the local 3-node cluster runs in"):
            LocalBroker(tmp_path)._refuse_if_cluster_runs()
    finally:
        proc.kill()
        proc.wait()
    assert running_cluster(tmp_path) is None and not cluster.any_running()
    LocalBroker(tmp_path)._refuse_if_cluster_runs()


def test_replication_auto_follows_the_brokers_up_to_three():
    assert [auto_replication_factor(n) for n in (0, 1, 2, 3, 5)] == [1, 1, 2, 3, 3]
    assert [min_insync_replicas(rf) for rf in (1, 2, 3, 5)] == [1, 1, 2, 2]
    assert with_min_insync({"cleanup.policy": "compact"}, 3) == {
        "cleanup.policy": "compact", "min.insync.replicas": "2"}
    # declared in deploy/topics.yaml: kept
    assert with_min_insync({"min.insync.replicas": "3"}, 3) == {"min.insync.replicas": "3"}


def test_the_declared_replication_is_auto_unless_given(tmp_path):
    assert {s.replication_factor for s in plan_topics(load_agencies())} == {None}
    assert {s.replication_factor for s in plan_topics(load_agencies(),
                                                      replication_factor=2)} == {2}
    path = tmp_path / "topics.yaml"
    topic = "topics:\n  - name: t\n    why: a test\n    config:\n      cleanup.policy: compact\n"
    path.write_text("defaults:\n  replication_factor: 2\n" + topic)
    assert [s.replication_factor for s in plan_topics(load_agencies(), path)] == [2]
    path.write_text("defaults:\n  replication_factor: lots\n" + topic)
    with pytest.raises(ConfigError, match="`auto` or a number"):
        plan_topics(load_agencies(), path)


def hub(tmp_path, *args):
    env = {**os.environ, "HUB_HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "hub", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_secure_cluster_is_refused_for_now(tmp_path):
    result = hub(tmp_path, "broker", "start", "--secure", "--nodes", "3")
    assert result.returncode == 1
    assert "--secure is not supported for the local cluster (--nodes 3) yet" in result.stderr
    assert not (tmp_path / "kafka-cluster").exists() and not (tmp_path / "kafka").exists()
    result = hub(tmp_path, "broker", "start", "--secure", "--node", "2")
    assert result.returncode == 1 and "not supported for the local cluster" in result.stderr


def test_node_options_without_a_cluster(tmp_path):
    result = hub(tmp_path, "broker", "stop", "--node", "2")
    assert result.returncode == 1
    assert "start it with `hub broker start --nodes 3`" in result.stderr
    result = hub(tmp_path, "broker", "status", "--nodes", "3")
    assert result.returncode == 1 and "--nodes goes with `start`" in result.stderr
    result = hub(tmp_path, "broker", "start", "--nodes", "2")
    assert result.returncode == 2 and "invalid choice: 2" in result.stderr


def test_test_processes_of_xdist_take_ports_of_their_own(monkeypatch):
    """Two test processes never pick the same free port before one of them binds it."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    for k in (0, 1):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{k}")
        assert {free_port() // 2 % 2 for _ in range(20)} == {k}
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    assert len({free_port() // 2 % 2 for _ in range(40)}) == 2  # one process: any free port
