"""A soak: the hub under a steady load for minutes, with faults on the way.

It starts everything itself, in a temporary folder on free ports: a local broker (or the
local three-broker cluster with ``--nodes 3``), the topics, ``--workers`` workers
(``hub run``) and ``hub deliver`` for the receiving agency (CSV files). A sender thread acts
as a connector: it publishes handover requests (and first each child's consent) at
``--rate`` events a second with acks=all and notes which ones the cluster acknowledged.
On the way, the faults of ``--faults`` happen (default: a worker is killed with SIGKILL and
started again 5 s later at a third of the time, and a broker is killed and started again
10 s later at two thirds; with three brokers, the leader of the outbox's partition 0).

At the end it waits for the inbox and the delivered files to catch up and reports:

- events sent, acknowledged, delivered once, lost (acknowledged, never delivered),
  doubled (delivered more than once) - in the inbox and in ``hub deliver``'s files;
- worker memory (RSS) at the start and the end;
- the longest time without progress (no event arrived in the inbox while events were
  being sent), and for each fault (timed from its SIGKILL or SIGTERM): the longest stretch
  without an arrival in the 90 s after it and when that began, and how long until every
  event acknowledged before it had arrived (or how many of those never did);
- the highest consumer lag the workers reported (``hub_consumer_lag``, outboxes).

    python bench/soak.py --minutes 30 --rate 200 [--nodes 3] [--workers 1]
    python bench/soak.py --minutes 2 --rate 50 --faults kill-worker@40,restart-broker@80
    python bench/soak.py --minutes 2 --rate 50 --faults restart-worker@40   # SIGTERM, start

Not part of the test suite. Ctrl-C stops it and everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_router import RECIPIENT, SENDER, make_events  # noqa: E402
from hub.agencies import load_agencies  # noqa: E402
from hub.broker.local import LocalBroker, free_port  # noqa: E402
from hub.contract.codec import get_codec, peek_event_id  # noqa: E402
from hub.kafka_io import consumer, producer  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402

CHILDREN = 2000


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------- brokers
class Brokers:
    """One local broker, or the local three-broker cluster."""

    def __init__(self, home: Path, nodes: int):
        self.nodes = nodes
        if nodes == 1:
            self.broker = LocalBroker(home, free_port(), free_port(), heap="512m")
            self.cluster = None
        else:
            from hub.broker.cluster import LocalCluster

            self.broker = None
            ports: list[int] = []
            while len(ports) < 2 * nodes:
                port = free_port()
                if port not in ports:
                    ports.append(port)
            self.cluster = LocalCluster(home, ports[:nodes], ports[nodes:], heap="512m")

    def start(self) -> str:
        if self.cluster is None:
            self.broker.start(progress=lambda m: None)
            return self.broker.bootstrap
        self.cluster.start(progress=lambda m: None)
        return self.cluster.bootstrap

    def kill_one(self, topic: str) -> tuple[str, object]:
        """SIGKILL one broker (with several: the leader of ``topic``'s partition 0); returns
        its name and how to start it again."""
        if self.cluster is None:
            pid = self.broker.status().pid
            os.kill(pid, signal.SIGKILL)
            return "the broker", lambda: self.broker.start(progress=lambda m: None)
        node = self.cluster.leader_of(topic, 0)
        self.cluster.kill(node)
        return f"broker {node} (leader of {topic}[0])", lambda: self.cluster.start_node(
            node, timeout=300, progress=lambda m: None)

    def stop(self) -> None:
        if self.cluster is None:
            self.broker.stop()
        else:
            self.cluster.stop()


# ---------------------------------------------------------------------------- processes
@dataclass
class Proc:
    name: str
    cmd: list[str]
    env: dict
    log: Path
    metrics_port: int | None = None
    proc: subprocess.Popen | None = None
    rss_start: float | None = None

    def start(self, ready: str | None = None, timeout: float = 180) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=REPO, stdout=out,
                                         stderr=subprocess.STDOUT)
        if ready is None:
            return
        deadline = time.monotonic() + timeout
        while ready not in self.log.read_text(errors="replace")[offset:]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start; see {self.log}")
            time.sleep(0.3)

    def rss(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 40) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def lag(self) -> int:
        if not self.metrics_port or not self.proc or self.proc.poll() is not None:
            return 0
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                        timeout=3) as page:
                text = page.read().decode()
        except OSError:
            return 0
        return int(sum(float(v) for v in re.findall(
            r'^hub_consumer_lag\{[^}]*topic="agency\.[^"]+\.outbox"[^}]*\} (\S+)$', text,
            re.MULTILINE)))


# ---------------------------------------------------------------------------- load
class Sender(threading.Thread):
    """A connector at a steady rate: consents first, then handover requests."""

    def __init__(self, bootstrap: str, outbox: str, rate: float, seconds: float,
                 key: PseudonymKey):
        super().__init__(daemon=True)
        self.bootstrap, self.outbox, self.rate, self.seconds = bootstrap, outbox, rate, seconds
        self.key = key
        self.sent: dict[str, float] = {}  # event id -> when handed to the producer
        self.acked: set[str] = set()
        self.failed: dict[str, str] = {}
        self.done = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        n = int(self.rate * self.seconds)
        codec = get_codec()
        consents, firsts = make_events(CHILDREN, CHILDREN, self.key)
        templates = [(key, codec.decode(value)) for key, value in firsts]  # one per child
        kp = producer(self.bootstrap, "soak")
        for key, value in consents:
            kp.send(self.outbox, key=key, value=value)
        kp.flush()
        start = time.monotonic()
        for i in range(n):
            if self.stopping.is_set():
                break
            pause = start + i / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            key, template = templates[i % CHILDREN]
            event_id, handover = str(uuid.uuid4()), f"UE-S-{i}"
            value = codec.encode(template.model_copy(update={
                "id": event_id, "correlation_id": handover,
                "payload": template.payload.model_copy(update={"handover_id": handover})}))
            self.sent[event_id] = time.monotonic()
            future = kp.send(self.outbox, key=key, value=value)
            future.add_callback(lambda _m, e=event_id: self.acked.add(e))
            future.add_errback(lambda exc, e=event_id: self.failed.__setitem__(e, repr(exc)))
        kp.flush()
        kp.close()
        self.done.set()


class Arrivals(threading.Thread):
    """Everything that arrives in the inbox from now on: event id -> arrival times."""

    def __init__(self, bootstrap: str, inbox: str):
        super().__init__(daemon=True)
        from kafka import TopicPartition

        self.kc = consumer(bootstrap, group_id=None, enable_auto_commit=False)
        tps = [TopicPartition(inbox, p) for p in self.kc.partitions_for_topic(inbox)]
        self.kc.assign(tps)
        self.kc.seek_to_end(*tps)
        for tp in tps:
            self.kc.position(tp)
        self.arrived: dict[str, list[float]] = {}
        self.times: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                batches = self.kc.poll(timeout_ms=200)
            except Exception:  # noqa: BLE001 - the broker is being restarted
                time.sleep(1)
                continue
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    event_id = peek_event_id(record.value or b"")
                    if event_id:
                        self.arrived.setdefault(event_id, []).append(now)
                        self.times.append(now)
        self.kc.close()


def delivered_rows(folder: Path) -> Counter:
    """Event id -> rows in ``hub deliver``'s CSV files."""
    import csv

    rows: Counter = Counter()
    for path in folder.glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter=";"):
                rows[row.get("Ereignis-ID", "")] += 1
    return rows


# ---------------------------------------------------------------------------- run
@dataclass
class Fault:
    kind: str  # kill-worker | restart-worker | restart-broker
    at: float  # seconds after the load started
    happened: float | None = None
    what: str = ""
    notes: list[str] = field(default_factory=list)


FAULT_KINDS = ("kill-worker", "restart-worker", "restart-broker")


def parse_faults(text: str, seconds: float) -> list[Fault]:
    if not text:
        return [Fault("kill-worker", seconds / 3), Fault("restart-broker", 2 * seconds / 3)]
    if text == "none":
        return []
    faults = []
    for part in text.split(","):
        kind, _, at = part.partition("@")
        if kind not in FAULT_KINDS or not at:
            raise SystemExit(f"--faults: {part!r} is not one of "
                             + ", ".join(f"{k}@S" for k in FAULT_KINDS))
        faults.append(Fault(kind, float(at)))
    return sorted(faults, key=lambda f: f.at)


def run(args) -> int:
    seconds = args.minutes * 60
    faults = parse_faults(args.faults, seconds)
    agencies = load_agencies()
    outbox, inbox = agencies.get(SENDER).outbox, agencies.get(RECIPIENT).inbox
    with tempfile.TemporaryDirectory(prefix="hub-soak-") as tmp:
        tmp = Path(tmp)
        home = tmp / "home"
        key_file = tmp / "key"
        key_file.write_text("soak-pseudonym-key-0123456789abcdef")
        key = PseudonymKey.from_file(key_file)
        brokers = Brokers(home, args.nodes)
        workers: list[Proc] = []
        deliver = None
        arrivals = sender = None
        try:
            say(f"starting {args.nodes} broker(s) ...")
            bootstrap = brokers.start()
            env = dict(os.environ, HUB_HOME=str(home), HUB_BOOTSTRAP_SERVERS=bootstrap,
                       HUB_PSEUDONYM_KEY_FILE=str(key_file), HUB_LOG_LEVEL="info")
            result = subprocess.run([sys.executable, "-m", "hub", "topics", "apply"],
                                    env=env, cwd=REPO, capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(f"hub topics apply failed:\n{result.stderr}")
            for n in range(args.workers):
                port = free_port()
                w = Proc(f"worker-{n}", [sys.executable, "-m", "hub", "run"],
                         dict(env, HUB_METRICS_PORT=str(port), HUB_WORKER_ID=f"soak-{n}"),
                         tmp / f"worker-{n}.log", metrics_port=port)
                say(f"starting {w.name} ...")
                w.start("Worker]: Ready")
                workers.append(w)
            out = tmp / "delivered"
            out.mkdir()
            deliver = Proc("deliver", [sys.executable, "-m", "hub", "deliver", RECIPIENT,
                                       "--to-dir", str(out)],
                           dict(env, HUB_METRICS_PORT="0"), tmp / "deliver.log")
            deliver.start()
            arrivals = Arrivals(bootstrap, inbox)
            arrivals.start()
            sender = Sender(bootstrap, outbox, args.rate, seconds, key)
            sender.start()
            while not sender.sent and sender.is_alive():
                time.sleep(0.2)  # consents first, then the clock starts
            t0 = time.monotonic()
            time.sleep(10)
            for w in workers:
                w.rss_start = w.rss()
            say(f"load: {args.rate:g} events/s for {args.minutes:g} min; workers' RSS "
                + ", ".join(f"{w.rss_start:.0f} MiB" for w in workers))
            max_lag, pending = 0, list(faults)
            next_report = t0 + 60
            while not sender.done.is_set():
                now = time.monotonic()
                if pending and now - t0 >= pending[0].at:
                    fault = pending.pop(0)
                    # the fault's time is when it was done (the SIGKILL, the SIGTERM), not
                    # when the loop got to it: finding a partition's leader takes a while
                    if fault.kind == "kill-worker":
                        w = workers[0]
                        w.kill()
                        fault.happened = time.monotonic()
                        fault.what = f"{w.name} killed (SIGKILL), started again 5 s later"
                        say(fault.what)
                        time.sleep(5)
                        w.start()
                    elif fault.kind == "restart-worker":
                        w = workers[0]
                        begun = fault.happened = time.monotonic()
                        w.stop()
                        fault.what = (f"{w.name} stopped (SIGTERM, gone after "
                                      f"{time.monotonic() - begun:.1f} s), started again")
                        say(fault.what)
                        w.start()
                    else:
                        name, restart = brokers.kill_one(outbox)
                        fault.happened = time.monotonic()
                        fault.what = f"{name} killed (SIGKILL), started again 10 s later"
                        say(fault.what)
                        time.sleep(10)
                        restart()
                max_lag = max(max_lag, sum(w.lag() for w in workers))
                if now >= next_report:
                    next_report = now + 60  # not one line per minute a fault blocked
                    say(f"{len(sender.sent):,} sent, {len(arrivals.arrived):,} arrived, lag "
                        f"{max_lag:,} at most so far")
                time.sleep(2)
            last_send = time.monotonic()
            say("sending done; waiting for the rest ...")
            deadline = last_send + args.drain_timeout
            while time.monotonic() < deadline:
                max_lag = max(max_lag, sum(w.lag() for w in workers))
                if all(e in arrivals.arrived for e in sender.acked):
                    break
                time.sleep(2)
            time.sleep(5)  # anything doubled late
            rss_end = [w.rss() for w in workers]
            # hub deliver: until its files hold what the inbox got (or a minute passed)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and \
                    len(delivered_rows(out)) < len(arrivals.arrived):
                time.sleep(2)
            rows = delivered_rows(out)
        finally:
            if sender:
                sender.stopping.set()
            if arrivals:
                arrivals.stopping.set()
            for p in [*workers, *([deliver] if deliver else [])]:
                p.stop()
            brokers.stop()
            if args.keep_logs:
                import shutil

                keep = Path(args.keep_logs)
                keep.mkdir(parents=True, exist_ok=True)
                for log in [*tmp.glob("*.log"), *home.glob("kafka*/**/server.log")]:
                    shutil.copy(log, keep / kept_name(log))
                say(f"logs kept in {keep}")
        report(args, sender, arrivals, rows, workers, rss_end, faults, max_lag, t0,
               last_send)
        return 0


def kept_name(log: Path) -> str:
    """The name a log gets in ``--keep-logs``: a broker's ``server.log`` (in
    ``<broker folder>/logs/``) by its broker's folder (``node-2-server.log``, one per node
    of the cluster; ``kafka-server.log``), the others as they are."""
    if log.name != "server.log":
        return log.name
    folder = log.parent.parent if log.parent.name == "logs" else log.parent
    return f"{folder.name}-{log.name}"


def longest_gap(times: list[float], start: float, end: float) -> tuple[float, float]:
    """The longest stretch within [start, end] without an arrival: (length, its start)."""
    points = [start, *[t for t in sorted(times) if start <= t <= end], end]
    best = (0.0, start)
    for a, b in zip(points, points[1:], strict=False):
        if b - a > best[0]:
            best = (b - a, a)
    return best


@dataclass
class Recovery:
    """What the inbox saw after one fault."""

    window: float       # seconds looked at after the fault
    quiet: float        # the longest stretch in the window without an arrival
    quiet_from: float   # when that stretch began, seconds after the fault
    caught_up: float    # seconds after the fault until every event acknowledged before it
                        # had arrived (0: all had arrived before the fault); of those arrived
    missing: int        # acknowledged before the fault, never arrived


def recovery(at: float, until: float, times: list[float], sent: dict[str, float],
             acked: set[str], arrived: dict[str, list[float]]) -> Recovery:
    """The inbox after a fault at ``at``, looked at until ``until``."""
    quiet, start = longest_gap(times, at, until)
    before = [e for e, t in sent.items() if t <= at and e in acked]
    firsts = [arrived[e][0] for e in before if arrived.get(e)]
    caught = max(0.0, max(firsts, default=at) - at)
    return Recovery(until - at, quiet, start - at, caught, len(before) - len(firsts))


def report(args, sender, arrivals, rows, workers, rss_end, faults, max_lag, t0,
           last_send) -> None:
    sent, acked = sender.sent, sender.acked
    counts = {e: len(arrivals.arrived.get(e, ())) for e in sent}
    once = sum(1 for c in counts.values() if c == 1)
    doubled = sum(1 for c in counts.values() if c > 1)
    lost = sum(1 for e in acked if counts.get(e, 0) == 0)
    unacked_arrived = sum(1 for e in sent if e not in acked and counts.get(e, 0))
    print()
    print(f"soak: {args.minutes:g} min at {args.rate:g} events/s, {args.nodes} broker(s), "
          f"{args.workers} worker(s)")
    print(f"  sent {len(sent):,}: acknowledged {len(acked):,}, not acknowledged "
          f"{len(sender.failed):,} ({unacked_arrived:,} of those arrived anyway)")
    print(f"  inbox: delivered once {once:,}, lost {lost:,}, doubled {doubled:,}")
    file_once = sum(1 for e in sent if rows.get(e) == 1)
    file_doubled = sum(1 for e in sent if rows.get(e, 0) > 1)
    file_missing = sum(1 for e in acked if not rows.get(e))
    print(f"  hub deliver's files: once {file_once:,}, missing {file_missing:,}, "
          f"doubled {file_doubled:,}")
    for w, end in zip(workers, rss_end, strict=True):
        print(f"  {w.name} RSS: {w.rss_start or 0:.0f} MiB at the start, {end or 0:.0f} MiB "
              "at the end")
    gap, at = longest_gap(arrivals.times, t0 + 5, last_send)
    print(f"  longest time without progress: {gap:.1f} s (from {at - t0:.0f} s into the load)")
    happened = [f for f in faults if f.happened is not None]
    if not happened:
        print("  no faults" + (" happened" if faults else " (--faults none)"))
    for fault, following in zip(happened, [*happened[1:], None][:len(happened)], strict=True):
        until = min(fault.happened + 90, last_send,
                    following.happened if following else float("inf"))
        r = recovery(fault.happened, until, arrivals.times, sent, acked, arrivals.arrived)
        caught = (f"everything acknowledged before it had arrived {r.caught_up:.1f} s after "
                  "it" if not r.missing else f"{r.missing:,} events acknowledged before it "
                  f"never arrived (the others had {r.caught_up:.1f} s after it)")
        print(f"  fault at {fault.happened - t0:.0f} s: {fault.what}; no event arrived for "
              f"{r.quiet:.1f} s at most (from {r.quiet_from:.1f} s after it) in the "
              f"{r.window:.0f} s after it; {caught}")
    print(f"  highest consumer lag (outboxes, all workers): {max_lag:,} records")
    if sender.failed:
        print("  not acknowledged, e.g.: " + json.dumps(list(sender.failed.values())[:3]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--minutes", type=float, default=30, help="how long (default 30)")
    parser.add_argument("--rate", type=float, default=200,
                        help="events a second (default 200)")
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1,
                        help="one broker or the local three-broker cluster (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="hub run workers (default 1)")
    parser.add_argument("--faults", default="",
                        help="kill-worker@S, restart-worker@S (SIGTERM, started again at "
                        "once) and restart-broker@S, comma-separated (S: "
                        "seconds into the load); 'none'; default: a worker kill at a third "
                        "and a broker restart at two thirds of the time")
    parser.add_argument("--keep-logs", metavar="DIR",
                        help="copy the workers', hub deliver's and brokers' logs into DIR")
    parser.add_argument("--drain-timeout", type=float, default=600,
                        help="wait at most this long after the last send (default 600 s)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        sys.exit(run(args))
    except KeyboardInterrupt:
        print("interrupted: everything it started is stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
