"""Benchmark the analytics aggregator against naive counting, measured in the same run.

Feeds N synthetic facts (events over 12 weeks, 9 municipalities, all life phases, event types
and a few offer categories; a fifth of them handovers) to :class:`Aggregator`, publishing
(recomputing the dirty slices with suppression, encoding the changed cells as Avro) every
``--batch`` facts, as the worker's timer does. The baseline counts distinct children per
cell with a dict of sets over the same facts: no upserts, no suppression, no records.

    python bench/bench_analytics.py [--n N] [--batch B]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.analytics.aggregate import Aggregator  # noqa: E402
from hub.analytics.facts import fact_from_json  # noqa: E402
from hub.analytics.records import encode_record  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="facts (default 100000)")
    parser.add_argument("--batch", type=int, default=2_000,
                        help="facts between two publishes (default 2000)")
    args = parser.parse_args()
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
