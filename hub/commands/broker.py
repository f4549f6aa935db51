"""``hub broker start|stop|status [--nodes 3] [--node N] [--secure]``: the local broker, or
the local three-broker cluster."""

from __future__ import annotations

import sys

from hub.errors import BrokerError
from hub.settings import load_settings


def _local_broker(settings):
    from hub.broker.local import LocalBroker

    return LocalBroker(
        settings.home, settings.broker_port, settings.controller_port,
        settings.kafka_libs_dir, settings.broker_heap,
    )


def _made_cluster(settings):
    """The local cluster made in HUB_HOME (``start --nodes 3``), or None."""
    from hub.broker.cluster import LocalCluster

    return LocalCluster.made_in(settings.home, libs_root=settings.kafka_libs_dir,
                                heap=settings.cluster_heap)


def add_parser(sub) -> None:
    p = sub.add_parser("broker", help="the local Kafka broker or three-broker cluster "
                       "(KRaft, 127.0.0.1 only)",
                       description="Start, stop or inspect the local single-node Kafka broker "
                       "(data and logs under $HUB_HOME/kafka, default .hub/kafka; ports "
                       "HUB_BROKER_PORT, HUB_CONTROLLER_PORT), or with `start --nodes 3` a "
                       "local cluster of three nodes, each broker and KRaft controller, as "
                       "production runs it (replication factor 3, min.insync.replicas 2; "
                       "data under $HUB_HOME/kafka-cluster/node-N; ports HUB_CLUSTER_PORTS, "
                       "default 19092,19093,19094, and HUB_CLUSTER_CONTROLLER_PORTS, default "
                       "19192,19193,19194; heap per node HUB_CLUSTER_HEAP). The single broker "
                       "and the cluster never run side by side in one HUB_HOME. `stop` and "
                       "`status` cover whatever runs, every node of the cluster included "
                       "(status exit code: 0 running, 3 not running, 4 some nodes of the "
                       "cluster down). The first start resolves the Kafka jars with Maven, "
                       "later starts are offline.")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--nodes", type=int, choices=[1, 3], default=None,
                   help="with `start`: 3 starts the local three-broker cluster and prints "
                   "its bootstrap list (for HUB_BOOTSTRAP_SERVERS); 1 (default) the single "
                   "broker")
    p.add_argument("--node", type=int, default=None, metavar="N",
                   help="only node N (1-3) of the local cluster: `start` it again and wait "
                   "until it has rejoined, `stop` it cleanly, or show its `status`")
    p.add_argument("--secure", action="store_true",
                   help="with `start` on new storage: TLS with a local CA, SCRAM-SHA-512 "
                   "logins for the operator, the hub, the analysts and every agency "
                   "(random passwords in $HUB_HOME/credentials, mode 0600), and ACLs "
                   "(nothing is allowed that `hub acl apply` does not allow). A secured "
                   "storage always starts secured.")
    p.set_defaults(func=cmd_broker)


def cmd_broker(args) -> int:
    settings = load_settings()
    if args.nodes is not None and args.action != "start":
        raise BrokerError(f"--nodes goes with `start`; `{args.action}` covers whatever runs "
                          "in HUB_HOME, the single broker or every node of the cluster")
    if args.secure and ((args.nodes or 1) > 1 or args.node is not None):
        raise BrokerError(
            "--secure is not supported for the local cluster (--nodes 3) yet; run the "
            "secured single broker (`hub broker start --secure`), or the cluster without "
            "--secure")
    if args.node is not None:
        return _broker_node(settings, args)
    if args.action == "start" and (args.nodes or 1) > 1:
        return _start_cluster(settings, args.nodes)
    broker = _local_broker(settings)
    if args.action == "start":
        return _start_broker(broker, args.secure)
    cluster = _made_cluster(settings)
    if args.action == "stop":
        return _stop_all(broker, cluster)
    return _status_all(broker, cluster)


def _start_broker(broker, secure: bool) -> int:
    """``start``: the single broker."""
    status, started = broker.start(progress=lambda m: print(m, file=sys.stderr),
                                   secure=secure)
    secured = " (TLS, SCRAM logins, ACLs)" if broker.secure else ""
    if started:
        print(f"broker started{secured}: {status.bootstrap} (pid {status.pid}, data "
              f"{status.data_dir})")
    else:
        print(f"broker already running{secured}: {status.bootstrap} (pid {status.pid})")
    if broker.secure:
        folder = broker.security.credentials_dir
        print(f"logins: {folder}/<user>.password (mode 0600) for operator, hub, analyst "
              f"and each agency; {folder}/<user>.env holds the HUB_ settings of one "
              f"(e.g. `set -a; . {folder}/operator.env; set +a`). CA certificate: "
              f"{broker.security.ca_cert}. Nothing is allowed until "
              "`hub acl apply` (as operator) has set the ACLs.")
    return 0


def _stop_all(broker, cluster) -> int:
    """``stop``: whatever runs, the cluster's nodes and the single broker."""
    stopped = False
    if cluster is not None and cluster.any_running():
        for node_id, was_running in cluster.stop():
            if was_running:
                print(f"node {node_id} stopped")
        print(f"cluster stopped ({cluster.size} nodes, {cluster.bootstrap})")
        stopped = True
    if broker.stop():
        print("broker stopped")
        stopped = True
    if not stopped:
        print("broker is not running")
    return 0


def _status_all(broker, cluster) -> int:
    """``status``: 0 running, 3 not running, 4 some nodes of the cluster down."""
    status = broker.status()
    nodes = cluster.status() if cluster is not None else []
    running = sum(n.running for n in nodes)
    # the single broker's line unless only the cluster is there
    if status.running or cluster is None or (broker.data_dir.exists() and not running):
        print(status.describe())
    if cluster is not None and (running or not status.running):
        print(f"local cluster: {running} of {cluster.size} nodes running, bootstrap "
              f"{cluster.bootstrap}, folder {cluster.dir}")
        for node in nodes:
            print(f"  {node.describe()}")
    if status.running or (nodes and running == len(nodes)):
        return 0
    return 4 if running else 3


def _start_cluster(settings, nodes: int) -> int:
    from hub.broker.cluster import LocalCluster

    cluster = LocalCluster.for_settings(settings, nodes)
    status, started = cluster.start(progress=lambda m: print(m, file=sys.stderr))
    if not started:
        print(f"cluster already running: {cluster.size} nodes, bootstrap {cluster.bootstrap}")
    elif len(started) == cluster.size:
        print(f"cluster started: {cluster.size} nodes (each broker and KRaft controller), "
              f"bootstrap {cluster.bootstrap}")
    else:
        print(f"cluster running again: started node{'s' * (len(started) > 1)} "
              f"{', '.join(map(str, started))}; bootstrap {cluster.bootstrap}")
    for node in status:
        print(f"  {node.describe()}")
    rf, isr = cluster.replication_factor, cluster.min_insync_replicas
    print(f"use it: export HUB_BOOTSTRAP_SERVERS={cluster.bootstrap}")
    print(f"then `hub topics apply` (replication factor {rf}, min.insync.replicas {isr}) "
          "and `hub run`; `hub broker status` and `hub broker stop` cover every node")
    return 0


def _broker_node(settings, args) -> int:
    """``--node N``: one node of the local cluster."""
    cluster = _made_cluster(settings)
    if cluster is None:
        raise BrokerError(f"--node needs the local cluster, and none is made in "
                          f"{settings.home}; start it with `hub broker start --nodes 3`")
    node = cluster.node(args.node)
    if args.action == "start":
        if node.status().running:
            print(f"node {args.node} already running: {node.node_status().describe()}")
            return 0
        status = cluster.start_node(args.node,
                                    progress=lambda m: print(m, file=sys.stderr))
        print(f"node {args.node} started and rejoined the cluster: {status.describe()}")
        return 0
    if args.action == "stop":
        print(f"node {args.node} stopped" if cluster.stop_node(args.node)
              else f"node {args.node} is not running")
        return 0
    status = node.node_status()
    print(status.describe())
    return 0 if status.running else 3
