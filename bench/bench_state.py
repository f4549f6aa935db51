"""Benchmark the worker's state on disk and its takeover work.

Two measurements, on a broker of its own (temporary folder, free ports):

``state``: N children's consent states are written straight into the consents changelog
(``unna-hub-consents-changelog``, keys and values JSON as Faust writes them), then
``hub run`` is started with the memory store and with RocksDB (first start: the local
database is built from the changelog; restart: only newer changelog records are read).
For each start it prints the time from ``hub run`` to the first routed event (a fresh
consent and event, sent just before the start) and the worker's RSS then.

``takeover``: R delivered events are written straight into an inbox (with the
``hub-delivered-at`` header), then it times the old takeover (every inbox partition
read from the beginning into memory, as the worker did before the delivered table) and
``hub run`` starting without a checkpoint (first start) and with one (restart): time to
the first routed event, the inbox records the worker says it read, the time until it
has read every inbox partition and until its checkpoints (in the delivered table's
changelog) reach every inbox's end. Each start is stopped only then, so the restart has
the first start's checkpoints. Partitions: the router's, from ``deploy/topics.yaml``.

    python bench/bench_state.py [--children 20000] [--records 100000] [--only state|takeover]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_router import RECIPIENT, SENDER, make_events  # noqa: E402
from hub.agencies import load_agencies  # noqa: E402
from hub.broker.local import LocalBroker, free_port  # noqa: E402
from hub.contract.codec import HEADER_SIZE, peek_event_id  # noqa: E402
from hub.kafka_io import admin_client, consumer, producer  # noqa: E402
from hub.routing.delivered import (  # noqa: E402
    CHECKPOINT_PREFIX,
    DELIVERED_AT_HEADER,
    DeliveredSet,
)
from hub.routing.inbox_scan import scan_inbox_partition  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402
from hub.topic_admin import apply_topics  # noqa: E402
from hub.topics import plan_topics, router_partition_count  # noqa: E402

CHANGELOG = "unna-hub-consents-changelog"
DELIVERED_CHANGELOG = "unna-hub-delivered-changelog"  # the inbox checkpoints are in it
READ = re.compile(r"partition (\d+): (\d+) inbox records read in ([\d.]+) s")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (and Faust's): murmur2 of the key modulo the count."""
    from kafka.partitioner.default import murmur2
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def write_consent_states(bootstrap: str, children: int, partitions: int) -> None:
    """N children's consent states, as the router's consents table stores them (the
    changelog gets the router's partition count, as ``hub run`` would create it)."""
    from kafka.admin import NewTopic
    with admin_client(bootstrap) as admin:
        admin.create_topics([NewTopic(CHANGELOG, partitions, 1,
                                      topic_configs={"cleanup.policy": "compact"})])
    kp = producer(bootstrap, "bench-state")
    recorded = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    for c in range(children):
        subject = f"bench-subject-{c:08d}-{uuid.uuid5(uuid.NAMESPACE_URL, str(c)).hex}"
        consent_id = f"EW-S-{c}"
        state = {consent_id: {"consent_id": consent_id, "purpose": "uebergang_kita_schule",
                              "recipients": [RECIPIENT], "valid_from": "2026-01-01",
                              "valid_to": None, "recorded_at": recorded, "revoked_at": None}}
        kp.send(CHANGELOG, key=json.dumps(subject).encode(), value=json.dumps(state).encode(),
                partition=partition_of(subject.encode(), partitions))
    kp.flush()
    kp.close()


def write_inbox(bootstrap: str, inbox: str, records: int, template: bytes,
                partitions: int) -> None:
    """R delivered events (ids are the first field after the header: spliced in)."""
    old_id = peek_event_id(template)
    cut = HEADER_SIZE + 1 + len(old_id)  # one varint byte for a 36-character id
    head, tail = template[:HEADER_SIZE + 1], template[cut:]
    kp = producer(bootstrap, "bench-inbox")
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat().encode()
    for i in range(records):
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"inbox-{i}")).encode()
        kp.send(inbox, key=b"s%d" % i, value=head + event_id + tail, partition=i % partitions,
                headers=[(DELIVERED_AT_HEADER, at)])
    kp.flush()
    kp.close()


class Checkpoints:
    """The inbox checkpoints the workers wrote into the delivered table's changelog (where a
    restart starts reading the inboxes), read from the changelog's tail: a checkpoint is
    written after the entries it covers, so a backlog of entries is skipped."""

    def __init__(self, bootstrap: str, tail: int = 2000):
        self.kc = consumer(bootstrap, group_id=None, enable_auto_commit=False)
        self.tail, self.tps = tail, None
        self.seen: dict[tuple[str, int], int] = {}  # (inbox, partition) -> highest offset

    def update(self) -> None:
        from kafka import TopicPartition
        if self.tps is None:
            parts = self.kc.partitions_for_topic(DELIVERED_CHANGELOG)
            if not parts:
                return
            self.tps = [TopicPartition(DELIVERED_CHANGELOG, p) for p in sorted(parts)]
            self.kc.assign(self.tps)
            self.kc.seek_to_beginning(*self.tps)
        ends = self.kc.end_offsets(self.tps)
        for tp in self.tps:
            if ends[tp] - self.kc.position(tp) > self.tail:
                self.kc.seek(tp, ends[tp] - self.tail)
        for _ in range(100):
            if all(self.kc.position(tp) >= ends[tp] for tp in self.tps):
                break
            for records in self.kc.poll(timeout_ms=500).values():
                for r in records:
                    if r.key and b"inbox-checkpoint|" in r.key and r.value is not None:
                        topic, _, part = json.loads(r.key)[len(CHECKPOINT_PREFIX):].rpartition("|")
                        key = (topic, int(part))
                        self.seen[key] = max(self.seen.get(key, 0), json.loads(r.value))

    def close(self) -> None:
        self.kc.close()


class Run:
    def __init__(self, tmp: Path, bootstrap: str, key: PseudonymKey, key_file: Path,
                 partitions: int):
        self.tmp, self.bootstrap, self.key, self.key_file = tmp, bootstrap, key, key_file
        self.partitions = partitions  # the router's (deploy/topics.yaml)
        self.agencies = load_agencies()
        self.n = 0
        self.checkpoints = Checkpoints(bootstrap)
        self.takeover = (None, None, None, 0)
        """Of the last start: seconds until every inbox partition was read, RSS MiB then,
        seconds until the checkpoints reached every inbox's end, partitions read."""

    @staticmethod
    def scanned(log: Path) -> set[str]:
        """The partitions whose inboxes the worker has read (its log says so)."""
        return {p for p, _, _ in READ.findall(log.read_text(errors="replace"))}

    def first_routed(self, store: str, worker_id: str, label: str, stop: bool = True):
        """Send a fresh consent and event, start ``hub run``, wait for the event in the
        inbox; returns (seconds, RSS MiB, log text)."""
        from kafka import TopicPartition
        self.n += 1
        consents, events = make_events(1, 1, self.key)
        inbox = self.agencies.get(RECIPIENT).inbox
        kc = consumer(self.bootstrap, group_id=None, enable_auto_commit=False)
        tps = [TopicPartition(inbox, p) for p in range(self.partitions)]
        kc.assign(tps)
        kc.seek_to_end(*tps)
        for tp in tps:
            kc.position(tp)
        kp = producer(self.bootstrap, "bench-state")
        outbox = self.agencies.get(SENDER).outbox
        # a new event id each time: the same child and consent, another handover
        event_key, event_value = events[0]
        fresh = str(uuid.uuid4()).encode()
        event_value = event_value[:HEADER_SIZE + 1] + fresh + event_value[
            HEADER_SIZE + 1 + len(fresh):]
        for key, value in consents:
            kp.send(outbox, key=key, value=value)
        kp.send(outbox, key=event_key, value=event_value)
        kp.flush()
        kp.close()
        log = self.tmp / f"{label}.log"
        env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=self.bootstrap,
                   HUB_HOME=str(self.tmp / "home"), HUB_STATE_STORE=store,
                   HUB_WORKER_ID=worker_id, HUB_METRICS_PORT="0",
                   HUB_PSEUDONYM_KEY_FILE=str(self.key_file),
                   HUB_CLOCK_START="2026-11-24T12:00:00+00:00")
        started = time.monotonic()
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], env=env, cwd=REPO,
                                    stdout=out, stderr=subprocess.STDOUT)
        took, rss = None, None
        try:
            deadline = started + 1800
            while took is None and time.monotonic() < deadline and proc.poll() is None:
                for records in kc.poll(timeout_ms=200).values():
                    if any(r.value and peek_event_id(r.value) == fresh.decode()
                           for r in records):
                        took = time.monotonic() - started
            if took is None:
                raise SystemExit(f"{label}: no routed event (see {log})")
            rss = rss_mib(proc.pid)
            if not stop:
                return took, rss, log.read_text(errors="replace"), proc
            # The takeover goes on after the first routed event: the worker reads each inbox
            # partition when a batch of it first comes (its ticks' at the latest), writes
            # what it found into the delivered table, and a batch or two later the
            # checkpoints. Stop it only once the checkpoints reach the end of every inbox
            # partition, so the restart starts from them (with a big inbox, stopped 4 s
            # after the first routed event, it had none and read everything again).
            inbox_tps = [TopicPartition(a.inbox, p) for a in self.agencies.exchanging()
                         for p in range(self.partitions)]
            kc.topics()  # metadata of every topic: end_offsets knows the other inboxes
            ends = {(tp.topic, tp.partition): end
                    for tp, end in kc.end_offsets(inbox_tps).items() if end}
            read_at = read_rss = persisted_at = None
            while time.monotonic() < deadline and proc.poll() is None:
                if read_at is None and len(self.scanned(log)) >= self.partitions:
                    read_at, read_rss = time.monotonic() - started, rss_mib(proc.pid)
                if read_at is not None:
                    self.checkpoints.update()
                    if all(self.checkpoints.seen.get(k, 0) >= end for k, end in ends.items()):
                        persisted_at = time.monotonic() - started
                        break
                time.sleep(1)
            self.takeover = (read_at, read_rss, persisted_at, len(self.scanned(log)))
            time.sleep(2)
        finally:
            kc.close()
            if stop:
                proc.terminate()
                proc.wait(120)
        return took, rss, log.read_text(errors="replace"), None


def bench_state(run: Run, children: int, stores: list[str]) -> None:
    print(f"writing the consent states of {children:,} children into {CHANGELOG} "
          f"({run.partitions} partitions) ...",
          flush=True)
    t = time.monotonic()
    write_consent_states(run.bootstrap, children, run.partitions)
    print(f"  {time.monotonic() - t:.1f} s", flush=True)
    for store in stores:
        starts = ["start"] if store == "memory" else ["first start", "restart"]
        for what in starts:
            took, rss, _log, _ = run.first_routed(store, f"bench-{store}",
                                                   f"state-{store}-{what.replace(' ', '-')}")
            print(f"state {children:>9,} children  {store:<8} {what:<12} first routed "
                  f"event after {took:6.1f} s   RSS {rss:7.0f} MiB", flush=True)
    du = subprocess.run(["du", "-sm", str(run.tmp / "home" / "worker" / "bench-rocksdb")],
                        capture_output=True, text=True).stdout.split()
    if du:
        print(f"  RocksDB folder: {du[0]} MiB", flush=True)


def bench_takeover(run: Run, records: int) -> None:
    inbox = run.agencies.get(RECIPIENT).inbox
    consents, events = make_events(1, 1, run.key)
    print(f"writing {records:,} delivered events into {inbox} ({run.partitions} partitions) ...",
          flush=True)
    t = time.monotonic()
    write_inbox(run.bootstrap, inbox, records, events[0][1], run.partitions)
    print(f"  {time.monotonic() - t:.1f} s", flush=True)
    inboxes = {a.inbox: a.id for a in run.agencies.exchanging()}
    delivered = DeliveredSet(timedelta(days=90))
    t = time.monotonic()
    read = sum(scan_inbox_partition(run.bootstrap, inboxes, p, delivered)[0]
               for p in range(run.partitions))
    print(f"takeover old way (every inbox partition from the beginning, in memory): "
          f"{read:,} records read in {time.monotonic() - t:.1f} s", flush=True)
    for what in ("first start", "restart"):
        took, rss, log, _ = run.first_routed("rocksdb", "bench-takeover",
                                             f"takeover-{what.replace(' ', '-')}")
        scans = READ.findall(log)
        read_at, read_rss, persisted_at, parts = run.takeover

        def secs(t):
            return "never" if t is None else f"{t:.1f} s"
        print(f"takeover new way, {what:<11}: first routed event after {took:6.1f} s, "
              f"{sum(int(n) for _, n, _ in scans):,} inbox records read in "
              f"{sum(float(s) for _, _, s in scans):.1f} s (sum over {parts} of "
              f"{run.partitions} partitions), RSS {rss:.0f} MiB", flush=True)
        print(f"    every partition read after {secs(read_at)}"
              + ("" if read_rss is None else f" (RSS {read_rss:.0f} MiB)")
              + f", checkpoints at every inbox's end after {secs(persisted_at)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--children", type=int, default=20_000,
                        help="children whose consent state is written (default 20,000)")
    parser.add_argument("--records", type=int, default=100_000,
                        help="delivered events written into the inbox (default 100,000)")
    parser.add_argument("--stores", default="memory,rocksdb",
                        help="stores to start the worker with (default memory,rocksdb)")
    parser.add_argument("--only", choices=("state", "takeover"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key_file = tmp / "key"
        key_file.write_text("bench-state-key!" * 3)
        key = PseudonymKey.from_file(key_file)
        broker = LocalBroker(tmp / "home", free_port(), free_port())
        broker.start(progress=lambda m: None)
        try:
            plan = plan_topics(load_agencies())
            with admin_client(broker.bootstrap) as admin:
                apply_topics(admin, plan)
            run = Run(tmp, broker.bootstrap, key, key_file, router_partition_count(plan))
            try:
                if args.only != "takeover":
                    bench_state(run, args.children, args.stores.split(","))
                if args.only != "state":
                    bench_takeover(run, args.records)
            finally:
                run.checkpoints.close()
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
