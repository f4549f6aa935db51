"""A local Apache Kafka cluster of three nodes (``hub broker start --nodes 3``), KRaft, on
127.0.0.1 only: to try what production runs (deploy/k8s: three combined broker/controller
nodes, replication factor 3, ``min.insync.replicas`` 2) on one machine, and to test
failover, e.g. a broker killed while the hub works.

Every node is broker and controller (``process.roles=broker,controller``), node ids 1, 2,
3; the three controllers form the KRaft quorum (``controller.quorum.voters``, a static
quorum: the voters are fixed when the cluster is made). The nodes share one cluster id and
the jars of the single broker (:class:`hub.broker.local.LocalBroker`, whose start-up,
configuration and shutdown they reuse). Under ``<home>/kafka-cluster``:

- ``cluster.json``: the cluster id and each node's client and controller port, written
  when the cluster is made; the ports stay those (``status`` and ``stop`` need no
  settings to find the nodes);
- ``node-N/``: the node's ``data/``, ``logs/server.log``, ``server.properties`` and
  ``broker.json`` (pid and address), like ``<home>/kafka`` of the single broker.

Default ports (``HUB_CLUSTER_PORTS``, ``HUB_CLUSTER_CONTROLLER_PORTS``): 19092-19094 for
clients, 19192-19194 for the controllers, so that the cluster never collides with the
single broker's 9092/9093. The single broker and the cluster never run side by side in
one HUB_HOME.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hub.broker.local import POM, LocalBroker, Progress, answers_metadata, new_cluster_id
from hub.broker.nodes import (
    CLUSTER_FOLDER,
    LAYOUT_FILE,
    check_port_free,
    pid_exists,
    read_layout,
    wait_port_free,
)
from hub.errors import BrokerError
from hub.paths import KAFKA_DEPLOY_DIR

DEFAULT_NODES = 3
PORT_SETTINGS = "HUB_CLUSTER_PORTS / HUB_CLUSTER_CONTROLLER_PORTS"
BROKER_SESSION_MS = 3000
"""How long the active controller waits for a node's heartbeat before it fences the node
(Kafka's default: 9000). A SIGKILLed leader's partitions stay without a leader that long."""
BROKER_HEARTBEAT_MS = 500
"""How often each node heartbeats to the controller (Kafka's default: 2000): six beats per
session, so one late beat on a busy machine does not fence a live node."""


@dataclass(frozen=True)
class NodeStatus:
    node_id: int
    running: bool
    pid: int | None
    port: int
    controller_port: int
    data_dir: Path
    log_file: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def describe(self) -> str:
        where = f"127.0.0.1:{self.port} (controller {self.controller_port})"
        if self.running:
            return (f"node {self.node_id}: running: pid {self.pid}, {where}, "
                    f"data {self.data_dir}, log {self.log_file}")
        return f"node {self.node_id}: not running, {where}, data {self.data_dir}"


class ClusterNode(LocalBroker):
    """One node of a :class:`LocalCluster`: broker and controller, its own folder and
    ports, the cluster's quorum and replication settings."""

    def __init__(self, cluster: LocalCluster, node_id: int, port: int, controller_port: int):
        super().__init__(cluster.home, port, controller_port, cluster.libs_root, cluster.heap,
                         cluster.pom, folder=cluster.dir / f"node-{node_id}")
        self.cluster = cluster
        self.node_id = node_id

    @property
    def secure(self) -> bool:  # the cluster has no secured mode (yet)
        return False

    def start(self, timeout: float = 120.0, progress: Progress = print,
              secure: bool = False):
        """A node starts through its cluster (it needs the quorum of the others)."""
        self.cluster.start_node(self.node_id, timeout=timeout, progress=progress)
        return self.status(), True

    def kill(self) -> bool:
        """SIGKILL: no controlled shutdown, no flush (a crashed machine). False if it was
        not running."""
        current = self.status()
        if not current.running:
            return False
        try:
            os.kill(current.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while pid_exists(current.pid):
            time.sleep(0.05)
        self.state_file.unlink(missing_ok=True)
        return True

    def node_status(self) -> NodeStatus:
        status = self.status()
        return NodeStatus(self.node_id, status.running, status.pid, self.port,
                          self.controller_port, self.data_dir, self.log_file)

    def _server_properties(self) -> dict[str, str]:
        props = super()._server_properties()
        rf = self.cluster.replication_factor
        isr = str(self.cluster.min_insync_replicas)
        props |= {
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.cluster.voters,
            "default.replication.factor": str(rf),
            "min.insync.replicas": isr,
            "offsets.topic.replication.factor": str(rf),
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": isr,
            # failover: a node that stops heartbeating is fenced (its partitions get new
            # leaders, it leaves their ISRs) after 3 s instead of 9 s; until then every
            # write with acks=all to a partition it leads or follows waits
            # (docs/operations.md, "Client timeouts and failover")
            "broker.session.timeout.ms": str(BROKER_SESSION_MS),
            "broker.heartbeat.interval.ms": str(BROKER_HEARTBEAT_MS),
        }
        return props


class LocalCluster:
    """Start, stop and inspect a local KRaft cluster of ``len(ports)`` nodes (three), and
    single nodes of it (for failover tests: :meth:`kill`, :meth:`stop_node`,
    :meth:`start_node`, :meth:`leader_of`)."""

    def __init__(
        self,
        home: Path,
        ports: Sequence[int] = (19092, 19093, 19094),
        controller_ports: Sequence[int] = (19192, 19193, 19194),
        libs_root: Path = KAFKA_DEPLOY_DIR / "lib",
        heap: str = "512m",
        pom: Path = POM,
    ):
        ports, controller_ports = list(ports), list(controller_ports)
        if not ports or len(ports) != len(controller_ports):
            raise BrokerError(
                f"a local cluster needs as many client ports as controller ports, one of "
                f"each per node ({len(ports)} and {len(controller_ports)} given; "
                f"{PORT_SETTINGS})")
        every = ports + controller_ports
        if len(set(every)) != len(every):
            raise BrokerError(f"the ports of the local cluster must all differ: {every} "
                              f"({PORT_SETTINGS})")
        self.home = Path(home)
        self.dir = self.home / CLUSTER_FOLDER
        self.layout_file = self.dir / LAYOUT_FILE
        self.libs_root = Path(libs_root)
        self.heap = heap
        self.pom = pom
        self.nodes: dict[int, ClusterNode] = {
            i: ClusterNode(self, i, port, controller)
            for i, (port, controller) in enumerate(
                zip(ports, controller_ports, strict=True), start=1)}

    @classmethod
    def made_in(cls, home: Path, **kwargs) -> LocalCluster | None:
        """The cluster made in ``home`` earlier (with the ports it was made with), or None
        when there is none."""
        layout = read_layout(Path(home) / CLUSTER_FOLDER / LAYOUT_FILE)
        if layout is None:
            return None
        nodes = sorted(layout["nodes"], key=lambda n: n["id"])
        return cls(home, [n["port"] for n in nodes], [n["controller_port"] for n in nodes],
                   **kwargs)

    @classmethod
    def for_settings(cls, settings, nodes: int = DEFAULT_NODES) -> LocalCluster:
        """The cluster of ``settings.home``: the one made there, or a new one on the first
        ``nodes`` ports of HUB_CLUSTER_PORTS / HUB_CLUSTER_CONTROLLER_PORTS."""
        options = {"libs_root": settings.kafka_libs_dir, "heap": settings.cluster_heap}
        made = cls.made_in(settings.home, **options)
        if made is not None:
            if nodes != made.size:
                raise BrokerError(
                    f"the local cluster in {made.dir} has {made.size} nodes, not {nodes}; "
                    f"remove that folder (its topics and data go with it) to make another")
            return made
        ports = settings.cluster_port_list()
        controllers = settings.cluster_port_list(controller=True)
        if min(len(ports), len(controllers)) < nodes:
            raise BrokerError(
                f"{nodes} nodes need {nodes} client and {nodes} controller ports, but "
                f"HUB_CLUSTER_PORTS lists {len(ports)} and HUB_CLUSTER_CONTROLLER_PORTS "
                f"{len(controllers)}")
        return cls(settings.home, ports[:nodes], controllers[:nodes], **options)

    # ------------------------------------------------------------------ status
    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def bootstrap(self) -> str:
        """Every node's client address, the bootstrap list for HUB_BOOTSTRAP_SERVERS."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    @property
    def voters(self) -> str:
        return ",".join(f"{i}@127.0.0.1:{node.controller_port}"
                        for i, node in self.nodes.items())

    @property
    def replication_factor(self) -> int:
        """Of the internal topics and the broker default: as many as nodes, at most 3."""
        from hub.topics import auto_replication_factor

        return auto_replication_factor(self.size)

    @property
    def min_insync_replicas(self) -> int:
        from hub.topics import min_insync_replicas

        return min_insync_replicas(self.replication_factor)

    @property
    def made(self) -> bool:
        return self.layout_file.exists()

    def node(self, node_id: int) -> ClusterNode:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise BrokerError(f"the local cluster has nodes {', '.join(map(str, self.nodes))}, "
                              f"no node {node_id}") from None

    def status(self) -> list[NodeStatus]:
        return [node.node_status() for node in self.nodes.values()]

    def any_running(self) -> bool:
        return any(s.running for s in self.status())

    def all_running(self) -> bool:
        return all(s.running for s in self.status())

    def access(self):
        from hub.security.client import KafkaAccess

        return KafkaAccess(self.bootstrap)

    def registered_brokers(self, timeout: float = 5.0) -> list[int]:
        """The ids of the brokers the cluster reports as registered and not fenced ([]
        when no node answers)."""
        from kafka.errors import KafkaError

        from hub.kafka_io import admin_client

        try:
            with admin_client(self.access(), timeout_s=timeout) as admin:
                brokers = admin.describe_cluster().get("brokers") or []
        except (KafkaError, BrokerError, OSError):
            return []
        return sorted(b["broker_id"] for b in brokers if not b.get("is_fenced"))

    def leader_of(self, topic: str, partition: int = 0) -> int | None:
        """The node id that leads ``partition`` of ``topic`` now (None: no leader)."""
        from hub.kafka_io import admin_client

        with admin_client(self.access()) as admin:
            described = admin.describe_topics([topic])
        for t in described:
            for p in t.get("partitions") or []:
                if p["partition_index"] == partition:
                    leader = p.get("leader_id", -1)
                    return leader if leader is not None and leader >= 0 else None
        raise BrokerError(f"topic {topic} has no partition {partition}")

    # ------------------------------------------------------------------- start
    def start(self, timeout: float = 120.0, progress: Progress = print,
              only: Sequence[int] | None = None) -> tuple[list[NodeStatus], list[int]]:
        """Start every node that does not run (or the nodes ``only``) at once, and wait
        until the cluster reports all of its brokers registered. Returns (status, the ids
        of the nodes started now). A node that exits while starting: BrokerError with the
        end of its log, and the nodes started by this call are stopped again."""
        wanted = [self.node(i) for i in (only or self.nodes)]
        to_start = [n for n in wanted if not n.status().running]
        if not to_start:
            return self.status(), []
        self._refuse_if_single_broker_runs()
        layout = read_layout(self.layout_file)
        if layout is not None:
            self._check_layout(layout)
        if not self.made and only:
            raise BrokerError(f"no local cluster is made in {self.dir} yet: start all of it "
                              "first (`hub broker start --nodes 3`)")
        java = to_start[0]._check_java()
        to_start[0].ensure_jars(progress)
        hint = (f"the cluster in {self.dir} was made with these ports; free them, or remove "
                "that folder to make a new cluster on other ports (HUB_CLUSTER_PORTS / "
                "HUB_CLUSTER_CONTROLLER_PORTS)" if layout else PORT_SETTINGS)
        for node in to_start:
            for port in (node.port, node.controller_port):
                check_port_free(port, hint)
        if layout is None:
            layout = self._write_layout()
        unformatted = [n for n in to_start if not (n.data_dir / "meta.properties").exists()]
        for node in to_start:
            node.log_dir.mkdir(parents=True, exist_ok=True)
            node._write_configs()
        if unformatted:
            progress(f"formatting the storage of node{'s' * (len(unformatted) > 1)} "
                     f"{', '.join(str(n.node_id) for n in unformatted)} in {self.dir} "
                     f"(cluster id {layout['cluster_id']})")
            with ThreadPoolExecutor(len(unformatted)) as pool:
                list(pool.map(lambda n: n._format(java, layout["cluster_id"]), unformatted))
        names = ", ".join(f"node {n.node_id} on {n.bootstrap}" for n in to_start)
        progress(f"starting Kafka {to_start[0].version}: {names}")
        procs = {}
        try:
            for node in to_start:
                procs[node.node_id] = node._launch(java)
            self._wait_ready(procs, timeout)
        except BaseException:
            self._terminate_all([self.nodes[i] for i in procs], pids=procs, timeout=15.0)
            raise
        return self.status(), [n.node_id for n in to_start]

    def start_node(self, node_id: int, timeout: float = 120.0,
                   progress: Progress = print) -> NodeStatus:
        """Start one node of the cluster (e.g. after :meth:`kill`) and wait until it has
        rejoined: registered again, and answering on its own port."""
        self.start(timeout, progress, only=[node_id])
        return self.node(node_id).node_status()

    def _refuse_if_single_broker_runs(self) -> None:
        single = LocalBroker(self.home, libs_root=self.libs_root, pom=self.pom).status()
        if single.running:
            raise BrokerError(
                f"the single local broker runs in {self.home} (pid {single.pid}, "
                f"{single.bootstrap}); stop it first with `hub broker stop`, or use another "
                "HUB_HOME for the cluster")

    def _check_layout(self, layout: dict) -> None:
        made = {n["id"]: (n["port"], n["controller_port"]) for n in layout["nodes"]}
        mine = {i: (n.port, n.controller_port) for i, n in self.nodes.items()}
        if made != mine:
            raise BrokerError(
                f"the local cluster in {self.dir} was made with other nodes or ports "
                f"({_describe_ports(made)}) than asked for ({_describe_ports(mine)}); start "
                "it with those, or remove that folder to make a new cluster")

    def _write_layout(self) -> dict:
        layout = {
            "cluster_id": new_cluster_id(),
            "nodes": [{"id": i, "port": n.port, "controller_port": n.controller_port}
                      for i, n in self.nodes.items()],
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        self.layout_file.write_text(json.dumps(layout, indent=2) + "\n")
        return layout

    def _wait_ready(self, procs: dict[int, subprocess.Popen], timeout: float) -> None:
        """Until every node started now answers on its own port and the cluster reports
        every node as a registered broker."""
        deadline = time.monotonic() + timeout
        pending = set(procs)  # started now, not answering yet on their own port
        while time.monotonic() < deadline:
            for node_id, proc in procs.items():
                if proc.poll() is not None:
                    node = self.nodes[node_id]
                    node.state_file.unlink(missing_ok=True)
                    raise BrokerError(
                        f"node {node_id} of the local cluster exited with code "
                        f"{proc.returncode} while starting. Last lines of its log:\n"
                        f"{node.log_tail()}")
            pending = {i for i in pending if not answers_metadata(self.nodes[i].bootstrap)}
            if not pending and set(self.registered_brokers()) >= set(self.nodes):
                return
            time.sleep(0.5)
        registered = self.registered_brokers()
        waiting = sorted(set(self.nodes) - set(registered)) or sorted(pending)
        tails = "\n".join(f"node {i}:\n{self.nodes[i].log_tail(15)}" for i in waiting)
        raise BrokerError(
            f"the local cluster did not get all {self.size} brokers registered within "
            f"{timeout:.0f} s (registered: {', '.join(map(str, registered)) or 'none'}). "
            f"Last lines of the logs of the nodes waited for:\n{tails}")

    # -------------------------------------------------------------------- stop
    def stop(self, timeout: float = 60.0) -> list[tuple[int, bool]]:
        """Shut every running node down cleanly, all at once (a quorum stays until the
        brokers have handed over), and wait until their ports are free. Returns
        (node id, was running) per node."""
        running = {s.node_id: s.pid for s in self.status() if s.running}
        self._terminate_all([self.nodes[i] for i in running], pids=running, timeout=timeout)
        for node in self.nodes.values():
            node.state_file.unlink(missing_ok=True)
        return [(i, i in running) for i in self.nodes]

    def stop_node(self, node_id: int, timeout: float = 60.0) -> bool:
        """Shut one node down cleanly (controlled shutdown: its partitions move first);
        False if it was not running."""
        return self.node(node_id).stop(timeout)

    def kill(self, node_id: int) -> bool:
        """SIGKILL one node, as if its machine died; False if it was not running."""
        return self.node(node_id).kill()

    def _terminate_all(self, nodes: list[ClusterNode], pids: dict, timeout: float) -> None:
        pids = {i: (p.pid if isinstance(p, subprocess.Popen) else p) for i, p in pids.items()}
        for node in nodes:
            try:
                os.kill(pids[node.node_id], signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(pid_exists(p) for p in pids.values()):
            time.sleep(0.2)
        for pid in pids.values():
            if pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
                while pid_exists(pid):
                    time.sleep(0.05)
        for node in nodes:
            node.state_file.unlink(missing_ok=True)
            for port in (node.port, node.controller_port):
                wait_port_free(port, 10.0)


def _describe_ports(nodes: dict[int, tuple[int, int]]) -> str:
    return "; ".join(f"node {i}: {p}/{c}" for i, (p, c) in sorted(nodes.items()))
