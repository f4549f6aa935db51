"""A district's year through one worker: does its memory stay flat, and its cost per event?

    python bench/bench_year.py [--events 1000000] [--children 40000] [--step 100000]
                               [--store rocksdb|memory] [--analytics inside|apart]
                               [--profile DIR]

On a broker of its own (temporary folder, free ports) it starts ``hub run`` with the
district's clock at the start of the next year, then plays one year of a district:
``--children`` invented children (names, birth dates and towns as the demo invents them),
each with the linkage encodings a connector publishes and a consent of the town's youth
office for the day-care -> school transition (it waits until the worker has routed every
consent and decided every child's linkage, and says how long that took), and then
``--events`` events in the order of their days over the year: handovers requested by the
youth office, accepted and completed by the school, and offers the youth office makes
(counted, not delivered).

The events go in steps of ``--step``; after each step it waits until the worker has read
every outbox to its end (the group's committed offsets), and then reads the worker's
resident memory (``VmRSS``) and CPU time (user + system) from ``/proc``. One line per
step: events read, the year's day reached, RSS, and the step's CPU per event and rate.
At the end: the highest RSS, the growth between the middle and the end of the year (the
aim: under 10 %), and whether the worker stayed within 400 MiB. With ``--analytics apart``
the worker routes only (``hub run --role router``) and a second one aggregates (``--role
analytics``): the lines add the analytics worker's RSS and CPU per event, read once it has
aggregated the step's facts too. After the last step, each worker's CPU per event of each
step by thread (``/proc/<pid>/task``): the event loop's thread (named after the process),
RocksDB's background threads, the Kafka clients' and the others. ``--profile DIR``
records each step with py-spy (``step-N.txt``; the analytics worker's apart:
``step-N-analytics.txt``).

The load is a backlog drained step by step, not a steady rate: a step's rate is the
worker's own (sending and reading overlap). The bench's own process builds and sends the
events on the same machine, so it takes CPU from the worker: compare CPU per event, and
rates only within one run.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_router import (  # noqa: E402
    APP_ID,
    Processes,
    process_cpu_seconds,
    spy,
    stop_spy,
    terminate,
)
from connectors.encodings import encode  # noqa: E402
from connectors.envelopes import (  # noqa: E402
    ConsentFacts,
    EventFacts,
    Person,
    build_consent_envelope,
    build_envelope,
    life_phase,
)
from hub.agencies import load_agencies  # noqa: E402
from hub.broker.local import LocalBroker, free_port  # noqa: E402
from hub.contract.codec import get_codec  # noqa: E402
from hub.contract.vocabulary import LifePhase, Municipality  # noqa: E402
from hub.core.topics import FACTS_TOPIC, LINKAGE_TOPIC  # noqa: E402
from hub.kafka_io import admin_client, consumer, producer  # noqa: E402
from hub.routing.agent import table_names  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402
from hub.simulation.people import invent_child  # noqa: E402
from hub.topic_admin import apply_topics  # noqa: E402
from hub.topics import plan_topics, router_partition_count  # noqa: E402

YEAR = 2026
FIRST_DAY = date(YEAR, 1, 1)
CLOCK_START = f"{YEAR + 1}-01-04T06:00:00+00:00"
SCHOOL = "grundschule-kamen-mitte"
PURPOSE = "uebergang_kita_schule"
TOWNS = ("luenen", "unna", "bergkamen", "kamen", "werne", "selm")
CEILING_MIB = 400


class Child:
    __slots__ = ("person", "town", "office", "subject", "events")

    def __init__(self, person: Person, town: str):
        self.person, self.town, self.office = person, town, f"jugendamt-{town}"
        self.subject = ""
        self.events = 0


def invent_children(n: int, seed: int = 2026) -> list[Child]:
    rng = random.Random(seed)
    children = []
    for i in range(n):
        town = TOWNS[i % len(TOWNS)]
        c = invent_child(rng, town, FIRST_DAY)
        birth = c.birth if c.birth.year >= YEAR - 7 else date(  # day-care -> school age
            YEAR - 1 - rng.randrange(6), c.birth.month, min(c.birth.day, 28))
        children.append(Child(Person(c.given, c.family, birth), town))
    return children


def first_records(children: list[Child], key: PseudonymKey, agencies, codec):
    """Per child: its linkage encodings, then its consent (youth office and school)."""
    from connectors.encodings import linkage_key

    lk = linkage_key(key)
    for number, c in enumerate(children):
        consent = build_consent_envelope(ConsentFacts(
            c.office, f"EW-Y-{number}", True, c.person, c.town, PURPOSE, (SCHOOL, c.office),
            FIRST_DAY - timedelta(days=30), None, FIRST_DAY - timedelta(days=30)), key,
            agencies)
        c.subject = consent.subject
        p = c.person
        yield (LINKAGE_TOPIC, c.subject.encode(),
               encode(lk, p.given_name, p.family_name, p.birth_date).to_bytes())
        yield agencies.get(c.office).outbox, c.subject.encode(), codec.encode(consent)


class Events:
    """The year's events in the order of their days, built from one template per kind."""

    KINDS = ("handover.requested", "handover.accepted", "handover.completed", "offer.made")

    def __init__(self, children: list[Child], total: int, key: PseudonymKey, agencies):
        self.children, self.total, self.agencies = children, total, agencies
        self.codec = get_codec()
        c = children[0]
        self.templates = {}
        for kind in self.KINDS:
            offer = kind.startswith("offer")
            self.templates[kind] = build_envelope(EventFacts(
                SCHOOL if kind in self.KINDS[1:3] else c.office, "T", kind, FIRST_DAY,
                c.person, c.town, PURPOSE,
                recipient=None if offer else (c.office if kind in self.KINDS[1:3]
                                              else SCHOOL),
                handover_id=None if offer else "UE-T",
                offer_category="Lernförderung" if offer else None), key, agencies)

    def day_of(self, i: int) -> date:
        return FIRST_DAY + timedelta(days=i * 365 // self.total)

    def record(self, i: int):
        c = self.children[(i * 7919) % len(self.children)]
        step, c.events = c.events, c.events + 1
        kind = self.KINDS[step % 4]
        day = self.day_of(i)
        template = self.templates[kind]
        update = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-year-{i}")),
                  "subject": c.subject, "municipality": Municipality(c.town),
                  "time": datetime(day.year, day.month, day.day, tzinfo=template.time.tzinfo),
                  "life_phase": LifePhase(life_phase(c.person.birth_date, day))}
        if kind == "offer.made":
            update["source"] = c.office
            outbox = self.agencies.get(c.office).outbox
        else:
            handover = f"UE-{c.subject[:12]}-{step // 4}"
            update["correlation_id"] = handover
            update["payload"] = template.payload.model_copy(update={"handover_id": handover})
            if kind == "handover.requested":
                update["source"], update["recipient"] = c.office, SCHOOL
                outbox = self.agencies.get(c.office).outbox
            else:
                update["source"], update["recipient"] = SCHOOL, c.office
                outbox = self.agencies.get(SCHOOL).outbox
        envelope = template.model_copy(update=update)
        return outbox, c.subject.encode(), self.codec.encode(envelope)


def outbox_lag(bootstrap: str, outboxes: list[str], group: str = APP_ID) -> int:
    """Records in the outboxes (topics) that ``group`` has not committed yet."""
    from kafka import TopicPartition

    with admin_client(bootstrap) as admin:
        committed = admin.list_group_offsets(group).get(group, {})
    kc = consumer(bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(t, p) for t in outboxes for p in kc.partitions_for_topic(t)]
        ends = kc.end_offsets(tps)
    finally:
        kc.close()
    return sum(end - (committed[tp].offset if tp in committed else 0)
               for tp, end in ends.items())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of process ``pid``'s live threads, summed per thread
    name with its digits dropped (``rocksdb:low0`` and ``rocksdb:low1`` are one line)."""
    tick = os.sysconf("SC_CLK_TCK")
    by_name: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")].rstrip("0123456789") or "?"
        fields = stat.rsplit(")", 1)[1].split()
        by_name[name] = by_name.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return by_name


def thread_shares(before: dict[str, float], after: dict[str, float], n: int) -> str:
    """The step's CPU ms per event by thread name, the busiest first (threads that ended
    during the step are missing: their time is in the process's total only)."""
    spent = {name: (after[name] - before.get(name, 0.0)) * 1000 / n for name in after}
    busy = sorted(((ms, name) for name, ms in spent.items() if ms >= 0.005), reverse=True)
    return ", ".join(f"{name} {ms:.2f}" for ms, name in busy) or "-"


def wait_drained(bootstrap: str, outboxes: list[str], worker, timeout: float,
                 group: str = APP_ID) -> None:
    deadline = time.monotonic() + timeout
    while (lag := outbox_lag(bootstrap, outboxes, group)) > 0:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker stopped (exit code {worker.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{lag} events still unread after {timeout:.0f} s")
        time.sleep(1.0)


def send_all(kp, records) -> int:
    n = 0
    for topic, key, value in records:
        kp.send(topic, key=key, value=value)
        n += 1
    kp.flush()
    return n


def start(tmp: Path, args):
    broker = LocalBroker(tmp / "home", free_port(), free_port())
    broker.start(progress=lambda m: None)
    plan = plan_topics(load_agencies())
    partitions = router_partition_count(plan)
    with admin_client(broker.bootstrap) as admin:
        from kafka.admin import NewTopic

        apply_topics(admin, plan)
        admin.create_topics([NewTopic(f"{APP_ID}-{table}-changelog", partitions, 1,
                                      topic_configs={"cleanup.policy": "compact"})
                             for table in table_names()])
    return broker


def play(args, bootstrap: str, key: PseudonymKey, procs: Processes, tmp: Path) -> list:
    agencies = load_agencies()
    env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=bootstrap, HUB_HOME=str(tmp / "home"),
               HUB_APP_ID=APP_ID, HUB_CLOCK_START=CLOCK_START, HUB_LOG_LEVEL="info",
               HUB_METRICS_PORT="0", HUB_PSEUDONYM_KEY_FILE=str(tmp / "key"),
               HUB_STATE_STORE=args.store)
    run = [sys.executable, "-m", "hub", "run"]
    apart = args.analytics == "apart"
    if apart:
        procs.start("analytics", [*run, "--role", "analytics"], env, "Worker]: Ready")
        run.extend(["--role", "router"])
    procs.start("worker", run, env, "Worker]: Ready")
    worker = procs.running["worker"][0]
    analytics = procs.running["analytics"][0] if apart else None
    outboxes = sorted({agencies.get(f"jugendamt-{t}").outbox for t in TOWNS}
                      | {agencies.get(SCHOOL).outbox})
    kp = producer(bootstrap, "bench-year")
    children = invent_children(args.children)
    print(f"{args.children:,} children: encodings and consents ...", flush=True)
    started = time.monotonic()
    send_all(kp, first_records(children, key, agencies, get_codec()))
    wait_drained(bootstrap, [*outboxes, LINKAGE_TOPIC], worker, args.timeout)
    print(f"consents routed and {args.children:,} children's encodings linked in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    workers = [Watch("worker", worker, APP_ID, outboxes)]
    if analytics:
        workers.append(Watch("analytics worker", analytics, f"{APP_ID}-analytics", [FACTS_TOPIC]))
        wait_drained(bootstrap, [FACTS_TOPIC], analytics, args.timeout, workers[1].group)
    rows = steps(args, Events(children, args.events, key, agencies), kp, bootstrap, workers)
    kp.close()
    for w in workers:
        print(f"\nthe {w.name}'s CPU ms per event by thread, each step:")
        for done, line in w.shares:
            print(f"{done:>9,}  {line}")
    return rows


class Watch:
    """A worker under watch: its process, the group and topics it reads, and per step its
    CPU time and threads."""

    def __init__(self, name: str, proc, group: str, topics: list[str]):
        self.name, self.proc, self.group, self.topics = name, proc, group, topics
        self.shares: list[tuple[int, str]] = []
        self.cpu, self.threads = 0.0, {}

    def begin(self) -> None:
        self.cpu, self.threads = process_cpu_seconds(self.proc.pid), thread_cpu(self.proc.pid)

    def end(self, done: int, n: int) -> float:
        """The step's CPU ms per event (and its threads' shares noted)."""
        self.shares.append((done, thread_shares(self.threads, thread_cpu(self.proc.pid), n)))
        return (process_cpu_seconds(self.proc.pid) - self.cpu) * 1000 / n


def steps(args, events: Events, kp, bootstrap: str, workers: list[Watch]) -> list:
    """The year in steps; a line per step. Rows: (events, day, RSS, CPU ms/event, rate)
    of the (routing) worker."""
    worker, others = workers[0], workers[1:]  # the analytics worker, when it runs apart
    rows = [(0, None, rss_mib(worker.proc.pid), None, None)]
    print(f"{'events':>9} {'day':>10} {'RSS MiB':>8} {'CPU ms/event':>13} {'events/s':>9}"
          + "".join(f" {'analytics MiB':>13} {'ms/event':>9}" for w in others), flush=True)
    print(f"{0:>9,} {'':>10} {rows[0][2]:>8.0f} {'':>13} {'':>9}"
          + "".join(f" {rss_mib(w.proc.pid):>13.0f} {'':>9}" for w in others), flush=True)
    done = 0
    while done < args.events:
        n = min(args.step, args.events - done)
        t = time.monotonic()
        for w in workers:
            w.begin()
        recorders = [spy(w.proc.pid, Path(args.profile) / f"step-{done + n}"
                         f"{'' if w is worker else '-analytics'}.txt")
                     for w in workers] if args.profile else []
        send_all(kp, (events.record(i) for i in range(done, done + n)))
        wait_drained(bootstrap, worker.topics, worker.proc, args.timeout)
        rate = n / (time.monotonic() - t)
        for w in others:  # the facts of the step aggregated as well
            wait_drained(bootstrap, w.topics, w.proc, args.timeout, w.group)
        done += n
        costs = [w.end(done, n) for w in workers]
        for recorder in recorders:
            stop_spy(recorder)
        rows.append((done, events.day_of(done - 1), rss_mib(worker.proc.pid), costs[0], rate))
        print(f"{done:>9,} {rows[-1][1]:%Y-%m-%d} {rows[-1][2]:>8.0f} {costs[0]:>13.2f} "
              f"{rate:>9,.0f}" + "".join(f" {rss_mib(w.proc.pid):>13.0f} {c:>9.2f}"
                                        for w, c in zip(others, costs[1:], strict=True)),
              flush=True)
    return rows


def verdict(rows: list) -> None:
    peak = max(r[2] for r in rows)
    last = rows[-1]
    middle = min(rows[1:], key=lambda r: abs(r[0] - last[0] / 2))
    growth = (last[2] - middle[2]) / middle[2] * 100
    print(f"\nhighest RSS {peak:.0f} MiB ({'within' if peak <= CEILING_MIB else 'OVER'} "
          f"{CEILING_MIB} MiB); from {middle[0]:,} to {last[0]:,} events RSS grew "
          f"{growth:+.1f} % ({middle[2]:.0f} -> {last[2]:.0f} MiB; aim: under 10 %)")
    costs = [r[3] for r in rows[1:]]
    print(f"CPU per event, first step {costs[0]:.2f} ms, last {costs[-1]:.2f} ms "
          f"(x{costs[-1] / costs[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events over the year (default 1,000,000)")
    parser.add_argument("--children", type=int, default=40_000,
                        help="children they concern (default 40,000)")
    parser.add_argument("--step", type=int, default=100_000,
                        help="events sent between two readings (default 100,000)")
    parser.add_argument("--store", choices=("rocksdb", "memory"), default="rocksdb",
                        help="the worker's state store (default rocksdb)")
    parser.add_argument("--analytics", choices=("inside", "apart"), default="inside",
                        help="inside (default): the worker aggregates the analytics too; "
                        "apart: it only routes, and a second worker aggregates")
    parser.add_argument("--profile", metavar="DIR",
                        help="record the (routing) worker with py-spy during each step, into "
                        "DIR/step-<events>.txt (raw folded stacks)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="wait at most this long for one step to be read (default 1800 s)")
    args = parser.parse_args()
    signal_handlers()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "key").write_text("bench-year-key" * 4)
        key = PseudonymKey.from_file(tmp / "key")
        broker = None
        procs = Processes(tmp)
        try:
            print("starting a broker ...", flush=True)
            broker = start(tmp, args)
            rows = play(args, broker.bootstrap, key, procs, tmp)
            verdict(rows)
        finally:
            procs.stop_all()
            if broker is not None:
                broker.stop()


def signal_handlers() -> None:
    import signal

    signal.signal(signal.SIGTERM, terminate)


if __name__ == "__main__":
    main()
