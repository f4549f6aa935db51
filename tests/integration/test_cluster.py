"""`hub broker start --nodes 3`: a real local KRaft cluster of three broker/controller
processes, started once for the module on free ports in a temporary HUB_HOME, and stopped
at the end whatever happened. Topics get replication factor 3 and min.insync.replicas 2;
a node killed with SIGKILL leaves the cluster answering and writing with acks=all, and
rejoins when started again; `status` and `stop` cover every node."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from hub.broker.cluster import LocalCluster
from hub.broker.local import free_port, port_in_use
from hub.kafka_io import admin_client
from tests.support.flows import flow_exports
from tests.support.paths import REPO
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

OUTBOX = "agency.jugendamt-kamen.outbox"
HEAP = "384m"


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def cluster_env(home: Path, ports: list[int], **extra: str) -> dict[str, str]:
    env = dict(os.environ, HUB_HOME=str(home),
               HUB_CLUSTER_PORTS=",".join(map(str, ports[:3])),
               HUB_CLUSTER_CONTROLLER_PORTS=",".join(map(str, ports[3:])),
               HUB_CLUSTER_HEAP=HEAP)
    env.pop("HUB_BOOTSTRAP_SERVERS", None)
    return {**env, **extra}


def hub(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------- errors, before any cluster
def test_a_node_that_dies_while_starting_shows_its_log(tmp_path):
    ports = free_ports(6)
    env = cluster_env(tmp_path / "home", ports, HUB_CLUSTER_HEAP="nonsense")
    try:
        result = hub(env, "broker", "start", "--nodes", "3")
        assert result.returncode == 1
        assert "of the local cluster exited with code" in result.stderr
        assert "Invalid maximum heap size" in result.stderr  # from the JVM's own output
        assert "Traceback" not in result.stderr
        status = hub(env, "broker", "status")
        assert status.returncode == 3 and "0 of 3 nodes running" in status.stdout
        assert not any(port_in_use(p) for p in ports)
    finally:
        LocalCluster(tmp_path / "home", ports[:3], ports[3:]).stop()


def test_a_taken_port_is_a_clear_error(tmp_path):
    ports = free_ports(6)
    env = cluster_env(tmp_path / "home", ports)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[4]))  # node 2's controller port
        squatter.listen()
        result = hub(env, "broker", "start", "--nodes", "3")
    assert result.returncode == 1
    assert f"port {ports[4]} on 127.0.0.1 is already taken" in result.stderr
    assert "HUB_CLUSTER_PORTS" in result.stderr
    assert not (tmp_path / "home" / "kafka-cluster").exists()  # nothing made, nothing runs


def test_no_cluster_beside_the_single_broker(kafka):
    """The session's single broker runs in its HUB_HOME: no cluster there."""
    env = cluster_env(kafka.home, free_ports(6))
    result = hub(env, "broker", "start", "--nodes", "3")
    assert result.returncode == 1
    assert f"the single local broker runs in {kafka.home}" in result.stderr
    assert "stop it first with `hub broker stop`" in result.stderr
    assert not (kafka.home / "kafka-cluster").exists()


# ------------------------------------------------------------------ the running cluster
@dataclass(frozen=True)
class ClusterEnv:
    home: Path
    ports: list[int]
    cluster: LocalCluster
    started: subprocess.CompletedProcess

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap

    def hub(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return hub(cluster_env(self.home, self.ports, **extra), *args)


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> ClusterEnv:
    home = tmp_path_factory.mktemp("cluster-home")
    ports = free_ports(6)
    cluster = LocalCluster(home, ports[:3], ports[3:], heap=HEAP)
    try:
        started = hub(cluster_env(home, ports), "broker", "start", "--nodes", "3")
        assert started.returncode == 0, started.stdout + started.stderr
        yield ClusterEnv(home, ports, cluster, started)
    finally:
        cluster.stop()


def test_start_prints_the_bootstrap_list_and_registers_three_brokers(three):
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in three.ports[:3])
    assert three.bootstrap == bootstrap
    out = three.started.stdout
    assert f"cluster started: 3 nodes (each broker and KRaft controller), bootstrap " \
           f"{bootstrap}" in out
    assert f"export HUB_BOOTSTRAP_SERVERS={bootstrap}\n" in out
    assert three.cluster.registered_brokers() == [1, 2, 3]
    with admin_client(bootstrap) as admin:
        described = admin.describe_cluster()
    assert sorted((b["broker_id"], b["port"]) for b in described["brokers"]) == [
        (1, three.ports[0]), (2, three.ports[1]), (3, three.ports[2])]
    assert described["controller_id"] in (1, 2, 3)
    for node_id in (1, 2, 3):
        folder = three.home / "kafka-cluster" / f"node-{node_id}"
        assert (folder / "data" / "meta.properties").exists()
        assert (folder / "logs" / "server.log").exists()
    again = three.hub("broker", "start", "--nodes", "3")
    assert again.returncode == 0 and "cluster already running: 3 nodes" in again.stdout


def test_the_single_broker_is_refused_while_the_cluster_runs(three):
    result = three.hub("broker", "start")
    assert result.returncode == 1
    assert "the local 3-node cluster runs in" in result.stderr
    assert not (three.home / "kafka").exists()


def test_topics_apply_replicates_three_times_with_min_insync_two(three):
    result = three.hub("topics", "apply", HUB_BOOTSTRAP_SERVERS=three.bootstrap)
    assert result.returncode == 0, result.stderr
    assert "new topics: replication factor 3 (3 brokers answer" in result.stdout
    assert "min.insync.replicas 2" in result.stdout
    with admin_client(three.bootstrap) as admin:
        (topic,) = admin.describe_topics([OUTBOX])
        config = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, OUTBOX)])
    assert len(topic["partitions"]) == 6
    for partition in topic["partitions"]:
        assert sorted(partition["replica_nodes"]) == [1, 2, 3]
    assert config["topic"][OUTBOX]["min.insync.replicas"]["value"] == "2"
    again = three.hub("topics", "apply", HUB_BOOTSTRAP_SERVERS=three.bootstrap)
    assert again.returncode == 0 and "0 created, 0 updated" in again.stdout


# ------------------------------------------------------------------ failover under load
SENDER, RECIPIENT = "kreisjugendamt-unna", "jugendamt-unna"
SENDER_OUTBOX, INBOX = f"agency.{SENDER}.outbox", f"agency.{RECIPIENT}.inbox"


@dataclass
class ClusterWorker:
    env: dict[str, str]
    proc: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture(scope="module")
def cluster_worker(three, key_file, tmp_path_factory):
    """`hub run` against the cluster (after `topics apply` above), for the failover tests."""
    from tests.support.clock import CLOCK_ANCHOR, CLOCK_START

    folder = tmp_path_factory.mktemp("cluster-worker")
    env = cluster_env(three.home, three.ports, HUB_BOOTSTRAP_SERVERS=three.bootstrap,
                      HUB_PSEUDONYM_KEY_FILE=str(key_file), HUB_METRICS_PORT="0",
                      HUB_CLOCK_START=CLOCK_START, HUB_CLOCK_ANCHOR=CLOCK_ANCHOR.isoformat())
    applied = hub(env, "topics", "apply")
    assert applied.returncode == 0, applied.stderr
    log = folder / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "Worker]: Ready" in log.read_text(errors="replace")
                 or proc.poll() is not None, 180, "the worker on the cluster")
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        yield ClusterWorker(env, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()


def ingest_until_acknowledged(env: dict[str, str], path: Path) -> list[str]:
    """`hub ingest` until the cluster acknowledged every event: exit 0, or exit 2 naming
    what it did not acknowledge and then a re-run (as its message says). Returns what
    each run said about unacknowledged events."""
    said = []
    for _ in range(4):
        result = hub(env, "ingest", str(path))
        if result.returncode == 0:
            return said
        assert result.returncode == 2, result.stdout + result.stderr
        assert "NOT acknowledged by the broker" in result.stderr
        said.append(result.stderr)
    raise AssertionError(f"{path.name} not acknowledged after 4 runs:\n" + "\n".join(said))


def failover_under_load(three, cluster_worker, tmp_path, key_file, fault, tag: str):
    """Consents, then 1,000 handover requests through `hub ingest` and the worker; ``fault``
    is done once a third of them arrived. Every request must arrive exactly once."""
    import threading
    from collections import Counter

    from connectors.ingest import Conversion
    from hub.agencies import load_agencies
    from hub.settings import PseudonymKey
    from hub.tail import Tail

    consent_file, request_file = flow_exports(tmp_path / tag, tag, SENDER, RECIPIENT)
    sent = {o.envelope.id for o in Conversion(
        request_file, load_agencies(), PseudonymKey.from_file(key_file)).outcomes()
        if o.envelope}
    assert len(sent) == 1000
    ingest_until_acknowledged(cluster_worker.env, consent_file)
    arrivals = Tail(three.bootstrap, [INBOX], timeout=240)
    publisher = threading.Thread(target=ingest_until_acknowledged,
                                 args=(cluster_worker.env, request_file))
    publisher.start()
    arrived: Counter = Counter()
    done_fault = False
    for record in arrivals:
        if record.value and record.value["id"] in sent:
            arrived[record.value["id"]] += 1
        if not done_fault and len(arrived) >= len(sent) // 3:
            fault()
            done_fault = True
        if len(arrived) == len(sent):
            break
    arrivals.close()
    publisher.join(300)
    assert done_fault, f"only {len(arrived)} of {len(sent)} arrived before the fault"
    assert cluster_worker.alive(), cluster_worker.log.read_text(errors="replace")[-3000:]
    everything = Counter(r.value["id"] for r in Tail(three.bootstrap, [INBOX],
                                                     from_beginning=True, timeout=3.0)
                         if r.value and r.value["id"] in sent)
    assert set(everything) == sent, f"{len(sent - set(everything))} never arrived"
    assert [i for i, n in everything.items() if n > 1] == []


def test_a_killed_leader_loses_and_doubles_nothing_and_the_worker_goes_on(
        three, cluster_worker, tmp_path, key_file):
    killed = []

    def kill_leader():
        node = three.cluster.leader_of(SENDER_OUTBOX, 0)
        three.cluster.kill(node)
        killed.append(node)
        status = three.hub("broker", "status")
        assert status.returncode == 4 and "2 of 3 nodes running" in status.stdout
        assert f"node {node}: not running" in status.stdout

    failover_under_load(three, cluster_worker, tmp_path, key_file, kill_leader, "kill")
    survivors = sorted({1, 2, 3} - set(killed))
    wait_for(lambda: three.cluster.registered_brokers() == survivors, 60,
             "the controller to fence the killed broker")
    # the worker made its changelogs with three copies, like `topics apply` the topics
    with admin_client(three.bootstrap) as admin:
        (changelog,) = admin.describe_topics(["unna-hub-consents-changelog"])
    assert all(len(p["replica_nodes"]) == 3 for p in changelog["partitions"])

    # (b) the killed broker comes back while the next events flow
    node = killed[0]
    failover_under_load(three, cluster_worker, tmp_path, key_file,
                        lambda: three.cluster.start_node(node, timeout=300,
                                                         progress=lambda m: None),
                        "back")
    assert three.cluster.registered_brokers() == [1, 2, 3]


def test_a_rolling_restart_of_every_broker_loses_and_doubles_nothing(
        three, cluster_worker, tmp_path, key_file):
    def rolling_restart():
        for node in (1, 2, 3):
            three.cluster.stop_node(node)
            three.cluster.start_node(node, timeout=300, progress=lambda m: None)

    failover_under_load(three, cluster_worker, tmp_path, key_file, rolling_restart, "roll")


def test_status_shows_every_node(three):
    result = three.hub("broker", "status")
    assert result.returncode == 0, result.stdout
    assert "local cluster: 3 of 3 nodes running" in result.stdout
    for node_id, port in enumerate(three.ports[:3], start=1):
        assert f"node {node_id}: running: pid" in result.stdout
        assert f"127.0.0.1:{port} (controller {three.ports[2 + node_id]})" in result.stdout


def test_stop_stops_every_node_and_frees_the_ports(three, cluster_worker):
    cluster_worker.proc.terminate()  # before its brokers go: it stops at once
    cluster_worker.proc.wait(40)
    result = three.hub("broker", "stop")
    assert result.returncode == 0, result.stderr
    for node_id in (1, 2, 3):
        assert f"node {node_id} stopped" in result.stdout
    assert "cluster stopped (3 nodes" in result.stdout
    assert not [p for p in three.ports if port_in_use(p)]
    after = three.hub("broker", "status")
    assert after.returncode == 3 and "0 of 3 nodes running" in after.stdout
    assert "is not running" in three.hub("broker", "stop").stdout
