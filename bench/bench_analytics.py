"""Benchmark the analytics aggregator against naive counting, measured in the same run.

Feeds N synthetic facts (events over 12 weeks, 9 municipalities, all life phases, event types
and a few offer categories; a fifth of them handovers) to :class:`Aggregator`, publishing
(recomputing the dirty slices with suppression, encoding the changed cells as Avro) every
``--batch`` facts, as the worker's timer does. The baseline counts distinct children per
cell with a dict of sets over the same facts: no upserts, no suppression, no records.

    python bench/bench_analytics.py [--n N] [--batch B]

``--stores`` compares where the aggregator keeps its facts instead, each store in a process
of its own: in memory (as the aggregator kept them before they moved to RocksDB) and in
RocksDB (the worker's default). For each: the takeover of a partition with N facts (every
fact applied as the agent replays ``hub.facts``, then the first publish, which recomputes
every slice), the memory that stays (Python's allocations by tracemalloc, in a second run,
and the process's RSS growth), and for RocksDB a restart that keeps the store (the facts
read on from the store's offset, the published cells compared with the store's, nothing to
recompute):

    python bench/bench_analytics.py --stores [--n N] [--repeat R]

``--live`` measures the live stream instead: each fact decoded from the bytes the router
writes and applied, as the worker's agent does (no publish), in memory, in RocksDB with a
write of its own per fact, and in RocksDB in the worker's batches
(:data:`hub.analytics.rocks.LIVE_FACTS`), the best of ``--repeat`` rounds in turns:

    python bench/bench_analytics.py --live [--n N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.analytics.aggregate import Aggregator  # noqa: E402
from hub.analytics.facts import decode_fact, encode_fact, fact_from_json, fact_key  # noqa: E402
from hub.analytics.records import encode_record  # noqa: E402
from hub.analytics.store import MemoryStore  # noqa: E402
from hub.analytics.takeover import replay  # noqa: E402
from hub.contract.vocabulary import LifePhase, Municipality  # noqa: E402

TYPES = ["offer.made", "offer.accepted", "offer.completed", "screening.completed",
         "consent.granted", "handover.requested"]
CATEGORIES = ["Familienhebamme", "Elternkurs", "Sprachförderung", "Babyschwimmen"]
KINDS = ["youth_office", "health", "school", "daycare", "jobcenter"]
START = datetime(2026, 9, 7, 8, tzinfo=UTC)


def make_facts(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    towns, phases = [m.value for m in Municipality], [p.value for p in LifePhase]
    facts = []
    for i in range(n):
        subject = f"{rnd.randrange(n // 4 + 1):064x}"
        at = START + timedelta(hours=rnd.randrange(12 * 7 * 24))
        town = rnd.choice(towns)
        if i % 5 == 4:
            answered = rnd.random() < 0.7
            facts.append({
                "kind": "handover", "id": f"UE-{i}", "subject": subject, "municipality": town,
                "requester": "a", "recipient": "b", "requester_kind": rnd.choice(KINDS),
                "recipient_kind": rnd.choice(KINDS), "requested_at": at.isoformat(),
                "answer": "accepted" if answered else None,
                "answered_at": (at + timedelta(days=rnd.randrange(1, 20))).isoformat()
                if answered else None,
                "completed_at": None, "stalled": [] if answered else ["answer"],
                "bounce": rnd.random() < 0.05, "ping_pong": rnd.random() < 0.02})
            continue
        event_type = rnd.choice(TYPES)
        facts.append({
            "kind": "event", "id": f"ev-{i}", "subject": subject, "time": at.isoformat(),
            "municipality": town, "life_phase": rnd.choice(phases), "type": event_type,
            "offer_category": rnd.choice(CATEGORIES) if event_type.startswith("offer")
            else None, "source": f"agency-{town}", "source_kind": "youth_office",
            "source_municipality": town,
            "outcome": rnd.choice(["routed", "routed", "routed", "refused_no_consent"])})
    return facts


def run_aggregator(facts: list[dict], batch: int) -> tuple[float, int]:
    aggregator = Aggregator(5)
    cells = 0
    started = time.perf_counter()
    for i, fact in enumerate(facts, 1):
        aggregator.apply(fact_from_json(fact))  # what the agent decodes, then counts
        if i % batch == 0 or i == len(facts):
            for topic, _, record in aggregator.publish(START):
                encode_record(topic, record)
                cells += 1
    return time.perf_counter() - started, cells


def run_baseline(facts: list[dict]) -> float:
    started = time.perf_counter()
    counts: dict[tuple, set] = {}
    for fact in facts:
        if fact["kind"] == "event":
            day = datetime.fromisoformat(fact["time"]).date()
            key = (day.isocalendar()[:2], fact["municipality"], fact["life_phase"],
                   fact["type"], fact["offer_category"])
        else:
            day = datetime.fromisoformat(fact["requested_at"]).date()
            key = ((day.year, day.month), fact["municipality"], fact["requester_kind"],
                   fact["recipient_kind"])
        counts.setdefault(key, set()).add(fact["subject"])
    return time.perf_counter() - started


Record = namedtuple("Record", "offset key value")


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def take_over(store, records: list[Record]) -> tuple[Aggregator, float, float]:
    """A partition taken over: its records replayed into a fresh aggregator (in bulk on
    RocksDB), then the first publish. Returns (aggregator, replay s, publish s)."""
    aggregator = Aggregator(5, store)
    started = time.perf_counter()
    bulk = getattr(store, "bulk", None)
    if bulk is not None:
        with bulk():
            replay(records, aggregator)
    else:
        replay(records, aggregator)
    aggregator.mark_all_dirty()
    replayed = time.perf_counter()
    aggregator.rss_replayed = rss_mib()
    for topic, _, record in aggregator.publish(START):
        encode_record(topic, record)
    return aggregator, replayed - started, time.perf_counter() - replayed


def measure_store(kind: str, n: int, folder: str) -> dict:
    """One store's figures (run in a process of its own, see ``--stores``)."""
    records = [Record(i, fact_key(f), encode_fact(f))
               for i, f in enumerate(map(fact_from_json, make_facts(n)))]

    def new_store(name):
        if kind == "memory":
            return MemoryStore()
        from hub.analytics.rocks import RocksStore
        return RocksStore(Path(folder) / name)

    gc.collect()
    before = rss_mib()
    aggregator, replayed, published = take_over(new_store("takeover"), records)
    gc.collect()
    out = {"store": kind, "facts": len(aggregator), "replay_s": replayed,
           "publish_s": published, "rss_replayed_mib": aggregator.rss_replayed - before,
           "rss_mib": rss_mib() - before}
    cells = [(topic, key, encode_record(topic, {**record, "updated_at": START}))
             for topic, key, record in (aggregator.publish(START) or [])]
    if kind == "rocksdb":  # a restart that keeps the store
        for s in {s for s, _ in aggregator.store.published_keys()}:
            cells += [(s[0], key, value) for key, value
                      in aggregator.store.published_of(s).items()]
        aggregator.store.read_up_to = len(records)
        aggregator.store.close()
        started = time.perf_counter()
        again = Aggregator(5, new_store("takeover"))
        replay(records[again.store.read_up_to:], again)
        again.reconcile_published(cells)
        again.publish(START)
        out["restart_s"] = time.perf_counter() - started
        again.store.close()
    del aggregator
    gc.collect()
    tracemalloc.start()
    aggregator, _, _ = take_over(new_store("traced"), records)
    out["traced_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    out["cells"] = sum(1 for _ in aggregator.store.published_keys())
    return out


def compare_stores(n: int, repeat: int) -> None:
    print(f"{n} facts (a fifth handovers, 12 weeks, 9 towns), one partition; each store "
          f"{repeat} times, in turns, the fastest run shown")
    runs: dict[str, list[dict]] = {"memory": [], "rocksdb": []}
    for _ in range(repeat):
        for kind, found in runs.items():
            with tempfile.TemporaryDirectory() as folder:
                done = subprocess.run([sys.executable, __file__, "--child", kind, "--n",
                                       str(n), "--folder", folder], capture_output=True,
                                      text=True, check=True)
            found.append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = [min(found, key=lambda r: r["replay_s"] + r["publish_s"])
            for found in runs.values()]
    per = 100_000 / n
    print(f"{'store':8} {'takeover: replay + first publish':>33} {'restart':>9} "
          f"{'RSS growth: replayed, published':>32} {'traced':>10}   (MiB per 100k facts)")
    for r in rows:
        restart = f"{r['restart_s']:7.2f} s" if "restart_s" in r else "  rebuild"
        print(f"{r['store']:8} {r['replay_s']:10.2f} s + {r['publish_s']:6.2f} s = "
              f"{r['replay_s'] + r['publish_s']:6.2f} s {restart:>9} "
              f"{r['rss_replayed_mib'] * per:20.1f} {r['rss_mib'] * per:10.1f} "
              f"{r['traced_mib'] * per:10.1f}")
    print(f"published cells: {rows[0]['cells']} (the same for every n: 12 weeks, 9 towns)")


def live_cost(n: int, repeat: int) -> None:
    """The live stream's cost per fact: each fact decoded from the bytes the router writes
    and applied, as the agent does (no publish), in memory, in RocksDB with a write of its
    own per fact (``LIVE_FACTS`` 1), and in RocksDB as the worker writes (batches of
    ``LIVE_FACTS``); CPU time of this process, the best of ``repeat`` rounds in turns."""
    from hub.analytics import rocks

    data = [encode_fact(fact_from_json(f)) for f in make_facts(n)]
    batch = rocks.LIVE_FACTS
    shapes = {"memory": None, "rocksdb, a write per fact": 1,
              f"rocksdb, batches of {batch}": batch}
    best: dict[str, float] = {}
    for _ in range(repeat):
        for name, size in shapes.items():
            with tempfile.TemporaryDirectory() as folder:
                rocks.LIVE_FACTS = size or batch
                store = MemoryStore() if size is None else rocks.RocksStore(Path(folder) / "db")
                aggregator = Aggregator(5, store)
                started = time.process_time()
                for value in data:
                    aggregator.apply_owned(decode_fact(value))
                took = (time.process_time() - started) / n
                if size is not None:
                    store.close()
                best[name] = min(took, best.get(name, took))
    rocks.LIVE_FACTS = batch
    print(f"{n} facts decoded and applied (a fifth handovers), best of {repeat}:")
    for name, took in best.items():
        print(f"  {name:28} {took * 1e6:6.1f} us a fact")
    each, batched = best["rocksdb, a write per fact"], best[f"rocksdb, batches of {batch}"]
    print(f"ratio batches / a write per fact: {batched / each:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="facts (default 100000)")
    parser.add_argument("--batch", type=int, default=2_000,
                        help="facts between two publishes (default 2000)")
    parser.add_argument("--stores", action="store_true",
                        help="compare the stores (memory, RocksDB) instead")
    parser.add_argument("--repeat", type=int, default=1,
                        help="with --stores or --live: runs of each, the fastest shown")
    parser.add_argument("--live", action="store_true",
                        help="the live stream's cost per fact instead: decoded and applied "
                        "in memory, in RocksDB a write per fact, and in batches")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_store(args.child, args.n, args.folder)))
        return
    if args.stores:
        compare_stores(args.n, args.repeat)
        return
    if args.live:
        live_cost(args.n, args.repeat)
        return
    facts = make_facts(args.n)
    baseline = run_baseline(facts)
    aggregated, cells = run_aggregator(facts, args.batch)
    print(f"{args.n} facts, publish every {args.batch}")
    print(f"baseline (dict of sets):   {baseline:7.2f} s  {args.n / baseline:10,.0f} facts/s")
    print(f"aggregator (+ suppression, {cells} cells encoded): {aggregated:7.2f} s  "
          f"{args.n / aggregated:10,.0f} facts/s")
    print(f"ratio aggregator / baseline: {aggregated / baseline:.1f}x the time")


if __name__ == "__main__":
    main()
