"""The Kafka node processes on this machine, shared by the single broker
(:mod:`hub.broker.local`) and the local cluster (:mod:`hub.broker.cluster`, whose nodes are
single brokers of their own): pids, ports, a node's state file, and where the cluster is
laid out in HUB_HOME, so that the single broker can tell whether a node of the cluster runs
without knowing the cluster."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from hub.errors import BrokerError

CLUSTER_FOLDER = "kafka-cluster"
LAYOUT_FILE = "cluster.json"
STATE_FILE = "broker.json"  # a node's pid and address, in its folder
CONFIG_FILE = "server.properties"  # a node's configuration, in its folder


def read_state(state_file: Path) -> dict | None:
    """A node's state (pid, bootstrap) as its start wrote it, or None."""
    try:
        return json.loads(state_file.read_text())
    except (FileNotFoundError, ValueError):
        return None


def runs_with(pid: int, config_file: Path) -> bool:
    """Whether ``pid`` is a Kafka process started with ``config_file`` (a pid of a node
    that stopped may have been given to another process since)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(config_file).encode() in cmdline


def read_layout(path: Path) -> dict | None:
    """The cluster's layout (cluster id, each node's ports), or None when none is made."""
    try:
        layout = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(layout, dict) or not layout.get("nodes"):
        return None
    return layout


def running_cluster(home: Path) -> tuple[int, str] | None:
    """(nodes, bootstrap) of the local cluster made in ``home`` when a node of it runs,
    else None."""
    folder = Path(home) / CLUSTER_FOLDER
    layout = read_layout(folder / LAYOUT_FILE)
    if layout is None:
        return None
    nodes = sorted(layout["nodes"], key=lambda n: n["id"])
    for node_id, _node in enumerate(nodes, start=1):
        node_dir = folder / f"node-{node_id}"
        state = read_state(node_dir / STATE_FILE)
        if state and runs_with(state["pid"], node_dir / CONFIG_FILE):
            return len(nodes), ",".join(f"127.0.0.1:{n['port']}" for n in nodes)
    return None


def pid_exists(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def check_port_free(port: int,
                    settings: str = "HUB_BROKER_PORT / HUB_CONTROLLER_PORT") -> None:
    if port_in_use(port):
        raise BrokerError(
            f"port {port} on 127.0.0.1 is already taken by another process; stop it or choose "
            f"other ports with {settings}"
        )


def wait_port_free(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while port_in_use(port) and time.monotonic() < deadline:
        time.sleep(0.2)


def free_port() -> int:
    """A port on 127.0.0.1 that nobody listens on right now (for tests and benches).

    Test processes of pytest-xdist (``PYTEST_XDIST_WORKER=gw<k>`` of
    ``PYTEST_XDIST_WORKER_COUNT=n``) each take only the ports ``p // 2 % n == k``: a port
    picked here is bound a little later (by a broker, a worker), and two processes must not
    pick the same one meanwhile. (Halved: Linux gives ``bind`` odd ports, ``connect`` even.)"""
    slot, slots = _port_slot()
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port // 2 % slots == slot:
            return port
    raise OSError(f"no free port p with p // 2 % {slots} == {slot} after 1000 tries")


def _port_slot() -> tuple[int, int]:
    """(k, n): this process takes the ports ``p // 2 % n == k`` (see :func:`free_port`)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    try:
        slots = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        slot = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
    except ValueError:
        return 0, 1
    return (slot % slots, slots) if slots > 1 else (0, 1)
