"""The Faust worker (``hub run``): builds the app from settings and registers the agents."""

from __future__ import annotations

import sys
from pathlib import Path

import faust

from hub.agencies import AgencyDirectory, load_agencies
from hub.errors import HubError
from hub.faust.worker import HubWorker
from hub.metrics import start_server
from hub.settings import Settings


def build_app(settings: Settings, agencies: AgencyDirectory | None = None) -> faust.App:
    """The worker's app with the agents of its role (``HUB_WORKER_ROLE``): the router (and
    the linkage stage), the analytics aggregator, or both."""
    from hub.clock import clock_from_settings
    from hub.core.topics import LINKED_TOPIC, TICK_TOPIC, is_outbox
    from hub.faust import patches
    from hub.faust.checks import check_faust
    from hub.metrics import prime_worker_metrics

    agencies = agencies or load_agencies()
    # the router's sources (outboxes, ticks, forwarded events) are neither compacted nor
    # transactional
    patches.apply(lambda topic: is_outbox(topic) or topic in (TICK_TOPIC, LINKED_TOPIC))
    prime_worker_metrics([a.id for a in agencies.exchanging()])
    app = new_app(settings, agencies)
    clock = clock_from_settings(settings)
    if settings.state_store == "rocksdb":  # one memory for the tables and the analytics
        patches.share_rocksdb_memory(settings.rocksdb_memory_mib * 1024**2)
    if settings.worker_role in ("all", "router"):
        register_routing(app, settings, agencies, clock)
    if settings.worker_role in ("all", "analytics"):
        from hub.analytics.agent import register_analytics

        register_analytics(app, settings.kafka, clock,
                           settings.analytics_k, settings.analytics_publish_seconds,
                           analytics_dir(settings))
    else:  # the router still places each fact on its slice's partition
        from hub.analytics.agent import facts_partitions
        from hub.analytics.placement import set_partitions

        set_partitions(facts_partitions(settings.kafka))
    register_lag_gauge(app)
    check_faust(app.consumer, [table.data for table in app.tables.values()])
    return app


def register_routing(app: faust.App, settings: Settings, agencies: AgencyDirectory,
                     clock) -> None:
    """The router and the linkage stage on ``app``."""
    from datetime import timedelta

    from hub.linkage.agent import register_linkage
    from hub.routing.agent import register_router
    from hub.routing.rules import Router, RoutingRules

    register_router(
        app, agencies, Router(agencies, RoutingRules.load()), clock,
        settings.kafka, timedelta(hours=settings.hold_window_hours),
        timedelta(days=settings.dedupe_retention_days),
        delay=settings.router_delay_ms / 1000,
        review_window=timedelta(days=settings.linkage_review_days),
    )
    register_linkage(app, settings.kafka, clock)


def new_app(settings: Settings, agencies: AgencyDirectory) -> faust.App:
    """The worker's Faust app, without agents: its broker, state folder and tuning."""
    from hub.topics import router_partitions

    kafka = settings.kafka
    folder = state_dir(settings)
    return faust.App(
        settings.group_id,
        broker=[f"kafka://{server}" for server in kafka.bootstrap.split(",")],
        broker_credentials=kafka.security.faust_credentials(),
        store=f"{settings.state_store}://",
        datadir=str(folder),
        web_enabled=False,
        # the partitions of the outboxes and hub.ticks (deploy/topics.yaml): the tables'
        # changelogs get as many, so a child's state is in the partition of its events
        topic_partitions=router_partitions(agencies),
        topic_replication_factor=settings.topic_replication_factor or 1,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # outputs go out in few, large produce requests rather than one each
        producer_linger=0.005,
        producer_max_batch_size=262144,
        producer_partitioner=KeyPartitioner(),
        broker_commit_every=100,
        broker_commit_interval=1.0,
        table_cleanup_interval=3600.0,
        # a crashed worker's partitions move on after 10 s instead of a minute
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        # failover (docs/operations.md, "Client timeouts and failover"): a dead broker's
        # connections fail at once, and the clients ask for new leaders every 100 ms until
        # the controller has fenced it; these bound only a broker that hangs. aiokafka
        # sends JoinGroup with this timeout and the broker holds it up to the rebalance
        # timeout (60 s), so it stays above that
        broker_request_timeout=90.0,
        # aiokafka fails outputs still waiting for a partition leader after this long: an
        # outage shorter than 20 minutes is waited out, not turned into failed sends
        producer_request_timeout=1200.0,
        # static membership: a worker restarted within the session timeout gets its
        # partitions back without a rebalance of the whole group
        consumer_group_instance_id=group_instance_id(settings, folder),
        # records fetched and waiting for a stream, per worker: the router takes 1,000 at a
        # time. With 16,384 a router worker's RSS was 11 MiB higher after 300,000 events
        # (bench/bench_year.py --events 300000 --analytics apart: 376 against 364 MiB),
        # once records reached the stream without a task each (hub.faust.hand_over)
        stream_buffer_maxsize=4096,
        # what one fetch brings per partition: Faust hands a fetched batch to the router
        # partition by partition, at the router's pace, and the Kafka client returns a
        # partition's whole fetch before the next one's. With 1 MiB (2,000 events) the
        # first partition fetched after a restart under backlog held back the others for
        # 20-40 s, when the router routed a few hundred events a second. With 64 KiB
        # (about 100 events) two workers each waited for input 60 % of the time and
        # together routed 0.65x one worker; with 128 KiB they route 1.01x, as with
        # 256 KiB (bench/bench_router.py --workers 1,2 --analytics apart). A larger fetch
        # costs memory: over a year a router worker reached 404 MiB with 256 KiB, 342 MiB
        # with 64 KiB (bench/bench_year.py --analytics apart; 128 KiB: docs/operations.md)
        consumer_max_fetch_size=128 * 1024,
        table_standby_replicas=settings.standby_replicas,
    )


def analytics_dir(settings: Settings) -> Path | None:
    """Where the analytics aggregator keeps its facts (``HUB_STATE_STORE=rocksdb``): beside
    the router's tables in the worker's state folder; None: in memory."""
    if settings.state_store != "rocksdb":
        return None
    return state_dir(settings) / f"{settings.app_id}-analytics"


def group_instance_id(settings: Settings, folder: Path) -> str:
    """The worker's static member id in the consumer group: the app id, the host and its
    state folder (``HUB_HOME/worker/<id>``, which one running worker holds at a time), so
    a restarted worker is the same member again and two running workers never are.

    A router-only worker (``--role router``) is another member than an all-in-one worker
    of the same folder. The broker hands a static member that comes back its last
    assignment without a rebalance; the all-in-one worker's included ``hub.facts``, which
    a router does not read, and a router started in its place waited for ever for an
    assignment it could take. (The analytics apart have a group of their own.)"""
    import hashlib
    import socket

    where = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    role = "-router" if settings.worker_role == "router" else ""
    return f"{settings.group_id}{role}-{socket.gethostname()}-{folder.name}-{where}"


class KeyPartitioner:
    """Kafka's default partitioner (murmur2 of the key; no key: any available partition),
    remembering the partition of the keys it has seen: the same subjects come back again
    and again, and murmur2 in Python costs more than a look-up."""

    def __init__(self, max_keys: int = 100_000):
        from aiokafka.partitioner import DefaultPartitioner, murmur2

        self._default = DefaultPartitioner()
        self._murmur2 = murmur2
        self._index: dict[bytes, int] = {}  # key -> murmur2 & 0x7FFFFFFF
        self.max_keys = max_keys

    def __call__(self, key, all_partitions, available):
        if key is None:
            return self._default(key, all_partitions, available)
        if len(all_partitions) == 1:
            return all_partitions[0]
        hashed = self._index.get(key)
        if hashed is None:
            if len(self._index) >= self.max_keys:
                self._index.clear()
            hashed = self._index[key] = self._murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


_STATE_LOCKS: dict = {}
"""State folder -> the open lock file that holds it for this process (never closed: the
lock lasts as long as the process, and a killed worker's lock is released by the kernel)."""


def state_dir(settings: Settings, max_workers: int = 64) -> Path:
    """The worker's own state folder, ``HUB_HOME/worker/<worker id>`` (the analytics run
    apart: ``HUB_HOME/analytics/<worker id>``).

    RocksDB locks each database it opens, and Faust keeps a revoked partition's database
    open, so two workers sharing a folder would wait for each other's locks when a
    partition moves between them. Each worker therefore holds an exclusive lock on its
    folder: with ``HUB_WORKER_ID`` set, on that folder (a second worker with the same id
    stops with an error); without it, on the first of ``0``, ``1``, ... not held by another
    running worker. A restarted worker gets the same folder back (and with it its tables,
    so it reads only the changelogs' newer records) as long as the workers on the machine
    start in the same order; a folder of another worker is correct too, only more of the
    changelogs are read.
    """
    import fcntl

    from hub.errors import ConfigError

    base = settings.home / ("analytics" if settings.worker_role == "analytics" else "worker")
    names = [settings.worker_id] if settings.worker_id else [str(i) for i in range(max_workers)]
    for name in names:
        folder = base / name
        if folder in _STATE_LOCKS:
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / ".lock", "a")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _STATE_LOCKS[folder] = lock
        return folder
    raise ConfigError(f"state folder {base / names[0]} is used by another running worker"
                      if settings.worker_id else
                      f"all {max_workers} state folders under {base} are in use")


def register_lag_gauge(app: faust.App, every: float = 5.0) -> None:
    """``hub_consumer_lag`` per partition this worker reads: end offset minus committed
    offset (changelog partitions left out: they are read only to restore tables)."""
    import logging

    from hub.faust.io import committed_offsets
    from hub.metrics import CONSUMER_LAG

    log = logging.getLogger(__name__)
    reported: set[tuple[str, str]] = set()

    @app.timer(interval=every)
    async def measure_lag():
        consumer = app.consumer
        tps = [tp for tp in consumer.assignment() if not tp.topic.endswith("-changelog")]
        try:
            ends = await consumer.highwaters(*tps) if tps else {}
            committed = committed_offsets(consumer)
            never = [tp for tp in tps if committed.get(tp) is None]
            # nothing committed yet: the partition is read from its beginning
            starts = await consumer.earliest_offsets(*never) if never else {}
        except Exception as exc:  # a broker hiccup: measure again next time
            log.debug("consumer lag not measured: %s", exc)
            return
        now: set[tuple[str, str]] = set()
        for tp in tps:
            done = committed.get(tp)
            done = starts.get(tp) if done is None else done
            if ends.get(tp) is None or done is None:
                continue
            labels = (tp.topic, str(tp.partition))
            CONSUMER_LAG.labels(*labels).set(max(0, ends[tp] - done))
            now.add(labels)
        for labels in reported - now:  # partitions given to another worker
            CONSUMER_LAG.remove(*labels)
        reported.clear()
        reported.update(now)


def serve_metrics(addr: str, port: int) -> bool:
    """Serve the Prometheus metrics on ``addr:port``; a port in use is reported on stderr
    and the worker runs on without metrics (routing matters more than its figures)."""
    try:
        start_server(addr, port, "HUB_METRICS_PORT")
    except HubError as exc:
        print(f"hub run: {exc}. Running without metrics.", file=sys.stderr, flush=True)
        return False
    print(f"hub run: metrics at http://{addr}:{port}/metrics", file=sys.stderr, flush=True)
    return True


GC_YOUNG_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation (Python's default: 700):
a routed batch makes tens of thousands of short-lived objects."""
CHANGELOG_CONFIG = {"cleanup.policy": "compact", "max.compaction.lag.ms": "604800000"}
"""The router's changelogs: compacted, and what a newer state or an erasure replaced is
compacted away within 7 days (docs/privacy.md)."""


def ensure_changelogs(settings: Settings, agencies: AgencyDirectory | None = None) -> list[str]:
    """Create the router's table changelogs that do not exist yet (compacted, with the
    router's partition count); returns the names created.

    Faust creates them itself on a worker's first start, but its consumer can then see a
    just-created changelog with 0 partitions for minutes, and its agent crashes in a loop
    (``PartitionsMismatch``) until its metadata catches up. Created beforehand, they are
    there with the right partitions when Faust looks."""
    from hub.kafka_io import admin_client
    from hub.routing.agent import table_names
    from hub.topic_admin import create_topics
    from hub.topics import TopicSpec, router_partitions

    partitions = router_partitions(agencies)
    wanted = [f"{settings.app_id}-{name}-changelog" for name in table_names()]
    with admin_client(settings.kafka) as admin:
        existing = set(admin.list_topics())
        missing = create_topics(admin, [
            TopicSpec(name, partitions, settings.topic_replication_factor, CHANGELOG_CONFIG)
            for name in wanted if name not in existing])
        _align_changelogs(admin, [name for name in wanted if name in existing])
    return missing


def _align_changelogs(admin, names: list[str]) -> None:
    """Give changelogs created before :data:`CHANGELOG_CONFIG` changed its settings."""
    from kafka.admin import ConfigResource, ConfigResourceType

    if not names:
        return
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])["topic"]
    stale = []
    for name in names:
        current = {k: v["value"] for k, v in described.get(name, {}).items()}
        if any(current.get(k) != v for k, v in CHANGELOG_CONFIG.items()):
            wanted = {**{k: v for k, v in current.items()
                         if k in ("min.insync.replicas",)}, **CHANGELOG_CONFIG}
            stale.append(ConfigResource(ConfigResourceType.TOPIC, name, configs=wanted))
    if stale:
        admin.alter_configs(stale)


def with_replication(settings: Settings) -> Settings:
    """``settings`` with the replication factor of the worker's own topics decided: the
    setting, or one copy per broker the cluster reports, at most 3 (as `hub topics apply`
    decides ``auto``)."""
    if settings.topic_replication_factor is not None:
        return settings
    from hub.kafka_io import admin_client
    from hub.topic_admin import cluster_brokers
    from hub.topics import auto_replication_factor

    with admin_client(settings.kafka) as admin:
        factor = auto_replication_factor(cluster_brokers(admin))
    return settings.model_copy(update={"topic_replication_factor": factor})


def use_uvloop() -> bool:
    """Run the worker on uvloop's event loop (libuv): Faust's consumer, the producer and
    the router's awaits then cost about 6 % less CPU per routed event (bench_router). False
    where uvloop is not installed (it has no Windows build)."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())  # the loop Faust's app and worker take
    return True


def run_worker(settings: Settings) -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM."""
    import faulthandler
    import signal

    from hub.connectivity import quiet_kafka_python

    quiet_kafka_python()  # the inbox scans' and admin calls' kafka-python clients
    if not use_uvloop():
        print("hub run: uvloop is not installed; the worker runs on asyncio's own event loop "
              "(about 6 % more CPU per routed event)", file=sys.stderr, flush=True)
    try:
        settings = with_replication(settings)
        created = ensure_changelogs(settings) if settings.worker_role != "analytics" else []
    except Exception as exc:  # noqa: BLE001 - Faust creates them itself, only later
        print(f"hub run: could not check the changelog topics ({exc}); the worker creates "
              "them itself", file=sys.stderr, flush=True)
    else:
        if created:
            print(f"hub run: created the changelogs {', '.join(created)}", file=sys.stderr,
                  flush=True)
    app = build_app(settings)
    # For diagnosing a worker that seems stuck, without stopping it: `kill -QUIT <pid>`
    # writes every thread's stack to the log, `kill -USR1 <pid>` every asyncio task's with
    # its variables (Faust's own dump), `kill -USR2 <pid>` every asyncio task's, briefly.
    faulthandler.register(signal.SIGQUIT, all_threads=True)

    @app.task
    async def _task_settle_the_heap():
        import gc

        # what the worker built to start (Faust, the Kafka clients, the tables' stores) is
        # there for good: out of the collector's way, so that the routing's short-lived
        # records do not make it walk the whole heap again and again
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    @app.task
    async def _task_dump_on_usr2():
        import asyncio

        def dump():
            for task in asyncio.all_tasks():
                print(f"task {task.get_name()}:", file=sys.stderr)
                for where in awaiting(task.get_coro()):
                    print(f"    {where}", file=sys.stderr)
            sys.stderr.flush()
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, dump)

    register_heap_trim(app)
    watch = register_broker_watch(app, settings.kafka.bootstrap.split(","))
    if settings.metrics_port:
        serve_metrics(settings.metrics_addr, settings.metrics_port)
    worker = HubWorker(app, watch, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()


def awaiting(coro, limit: int = 40) -> list[str]:
    """Where a coroutine waits: its frame and those of every coroutine it awaits, outermost
    first (``Task.print_stack`` shows only the outermost)."""
    found = []
    while coro is not None and len(found) < limit:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            found.append(repr(coro)[:120])
            break
        found.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return found


def heap_trim():
    """glibc's ``malloc_trim(0)``: give the pages of freed memory back to the system. None
    where the C library has none (musl, macOS, Windows)."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


def register_heap_trim(app: faust.App, every: float = 30.0) -> None:
    """Every ``every`` seconds, the worker's freed memory goes back to the system. RocksDB's
    block cache and the routing's records are freed all over the heap, and glibc keeps such
    memory resident until it is asked to give it back. A worker doing both had 14 MiB less
    RSS after 300,000 events (347 against 361 MiB, bench/bench_year.py --events 300000),
    at no CPU per event that the bench could tell; over a year of 1,000,000 events its
    highest RSS was 362 MiB (399 before)."""
    import asyncio
    import logging

    trim = heap_trim()
    if trim is None:
        logging.getLogger(__name__).info("no malloc_trim in this C library: freed memory "
                                         "stays with the worker until it is used again")
        return

    @app.timer(interval=every)
    async def trim_heap():
        await asyncio.get_running_loop().run_in_executor(None, trim)


def register_broker_watch(app: faust.App, brokers: list[str], every: float = 2.0):
    """Probe the brokers every ``every`` seconds (:class:`hub.connectivity.BrokerWatch`)."""
    import asyncio

    from hub.connectivity import BrokerWatch

    def waiting() -> int:
        try:
            return len(app.consumer.assignment())
        except Exception:  # noqa: BLE001 - no consumer yet
            return 0

    watch = BrokerWatch(brokers, waiting=waiting)

    @app.timer(interval=every)
    async def probe_brokers():
        await asyncio.get_running_loop().run_in_executor(None, watch.check)

    return watch
