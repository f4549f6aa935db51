"""Benchmark the router engine alone: per-event cost against the length of a child's history.

Runs the router's handlers (``RouterBus.handle``) in memory (dict state, a fixed clock, no
Kafka) over the same number of handover events (default 20,000) spread over children with
1, 4, 40, 80 and 200 events each, in the same run, and prints microseconds per event (CPU time
of the process, best of ``--repeat`` rounds) for each and the ratio of the longest histories to
one event per child. Every child first gets one
consent naming every agency of its handovers (not timed).

Two kinds of history, built with the connectors' own envelope builders:

* ``years``: a realistic history spanning years. Handovers between several agencies of
  one town, asked now by one agency, now by another; most are accepted and completed,
  some declined (the requester then usually asks another agency: a bounce), a few never
  answered; weeks to months between them.
* ``same-pair``: the worst case for ping-pong. Every handover is between the same two
  agencies, back and forth every few days.

Events reach the engine in the order of their times (the children interleaved); with
``--shuffle`` a share of the answers arrives after the next request (other outboxes).

    python bench/bench_engine.py [--events 20000] [--per-child 1,4,40,80,200]
                                 [--history years,same-pair] [--repeat 2] [--shuffle 0.1]

Profile it with ``python -m cProfile -s cumtime bench/bench_engine.py --per-child 200``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connectors.envelopes import (  # noqa: E402
    ConsentFacts,
    EventFacts,
    Person,
    build_consent_envelope,
    build_envelope,
)
from hub.agencies import load_agencies  # noqa: E402
from hub.clock import FixedClock  # noqa: E402
from hub.contract.codec import get_codec  # noqa: E402
from hub.routing.bus import RouterBus, new_bus  # noqa: E402
from hub.routing.delivered import DeliveredSet  # noqa: E402
from hub.routing.messages import Incoming  # noqa: E402
from hub.routing.rules import Router  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402

TOWN, PURPOSE = "kamen", "uebergang_kita_schule"
KAMEN = ("kita-kamen-regenbogen", "grundschule-kamen-mitte", "jugendamt-kamen",
         "jobcenter-kreis-unna", "gesundheitsamt-kreis-unna")
PAIR = ("kita-kamen-regenbogen", "grundschule-kamen-mitte")
START = datetime(2020, 3, 2, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
"""The hub's clock: after every history."""
SPAN = NOW - START - timedelta(days=30)


def history(kind: str, n: int, rng: random.Random) -> list[tuple]:
    """``n`` handover steps of one child: (time, step, sender, handover, recipient)."""
    steps: list[tuple] = []
    t = START + timedelta(days=rng.uniform(0, 30))
    gap = SPAN / (n / 2.5 + 1)  # about 2.5 steps a handover: the years up to the hub's now
    number = 0
    while len(steps) < n:
        number += 1
        hid = f"{number}"
        if kind == "same-pair":
            a, b = PAIR if number % 2 else PAIR[::-1]
            t += timedelta(days=rng.uniform(1, 6))
        else:
            a, b = rng.sample(KAMEN, 2)
            t = min(t + gap * rng.uniform(0.5, 1.5), NOW - timedelta(days=1))
        steps.append((t, "requested", a, hid, b))
        roll = rng.random()
        answer_at = t + timedelta(days=rng.uniform(0.5, 10))
        if roll < 0.7:
            steps.append((answer_at, "accepted", b, hid, None))
            steps.append((answer_at + timedelta(days=rng.uniform(1, 60)), "completed", b,
                          hid, None))
        elif roll < 0.95:
            steps.append((answer_at, "declined", b, hid, None))
            if kind != "same-pair" and rng.random() < 0.7:  # asks another agency
                number += 1
                c = rng.choice([x for x in KAMEN if x not in (a, b)])
                t = answer_at + timedelta(days=rng.uniform(0.5, 5))
                steps.append((t, "requested", a, f"{number}", c))
                steps.append((t + timedelta(days=2), "accepted", c, f"{number}", None))
        # else: never answered
    steps.sort(key=lambda s: s[0])
    return steps[:n]


def make_events(total: int, per_child: int, kind: str, key: PseudonymKey, seed: int = 7,
                shuffle: float = 0.0):
    """(consents, events) for ``total // per_child`` children: consents as (subject,
    bytes), events as (subject, bytes, sender)."""
    agencies = load_agencies()
    codec = get_codec()
    rng = random.Random(f"{seed}|{per_child}|{kind}")
    children = max(1, total // per_child)
    templates = {}
    person = Person("Kind", "Bench", date(2018, 5, 1))
    for step in ("requested", "accepted", "declined", "completed"):
        templates[step] = build_envelope(EventFacts(
            KAMEN[0], "T", f"handover.{step}", date(2022, 9, 16), person, TOWN, PURPOSE,
            recipient=KAMEN[1], handover_id="T-0"), key, agencies)
    consents, timed = [], []
    for c in range(children):
        person = Person(f"Kind{c}", f"Bench{per_child}{kind}", date(2018, 1 + c % 12,
                                                                     1 + c % 28))
        consent = build_consent_envelope(ConsentFacts(
            KAMEN[0], f"EW-{c}", True, person, TOWN, PURPOSE, KAMEN, date(2019, 1, 1), None,
            date(2020, 1, 1)), key, agencies)
        subject = consent.subject
        consents.append((subject, codec.encode(consent)))
        for at, step, sender, hid, recipient in history(kind, per_child, rng):
            at = at.replace(hour=0, minute=0, second=0, microsecond=0)  # date-only events
            template = templates[step]
            handover_id = f"UE-{c}-{hid}"
            envelope = template.model_copy(update={
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{c}|{hid}|{step}|{per_child}")),
                "subject": subject, "source": sender, "time": at, "recipient": recipient,
                "correlation_id": handover_id,
                "payload": template.payload.model_copy(update={"handover_id": handover_id})})
            timed.append((at, subject, codec.encode(envelope), step, sender))
    timed.sort(key=lambda e: e[0])
    if shuffle:  # some answers arrive after later events of the family (other outboxes)
        for i in range(len(timed) - 1):
            if timed[i][3] != "requested" and rng.random() < shuffle:
                j = min(len(timed) - 1, i + rng.randint(1, 3 * children))
                timed.insert(j, timed.pop(i))
    return consents, [(subject, raw, sender) for _at, subject, raw, _step, sender
                      in timed[:total]]


def run(consents, events) -> tuple[float, RouterBus]:
    """CPU seconds per event for ``events`` (after the consents, not timed). CPU time of
    this process, so that other work on the machine counts less."""
    agencies = load_agencies()
    outbox = {a.id: a.outbox for a in agencies.exchanging()}
    engine = new_bus(agencies, Router(agencies), FixedClock(NOW), timedelta(hours=24),
                           DeliveredSet(timedelta(days=90)), {}, {}, {}, {})
    offset = 0
    for subject, raw in consents:
        offset += 1
        engine.handle(Incoming(outbox[KAMEN[0]], 0, offset, raw, subject.encode()))
    messages = []
    for subject, raw, sender in events:
        offset += 1
        messages.append(Incoming(outbox[sender], 0, offset, raw, subject.encode()))
    dead = 0
    started = time.process_time()
    for message in messages:
        dead += sum(o.type == "dead_letter" for o in engine.handle(message))
    took = (time.process_time() - started) / len(messages)
    if dead:  # a bench that measures dead letters measures nothing of the routing
        raise SystemExit(f"the engine dead-lettered {dead} of {len(messages)} events; "
                         "the bench's events no longer pass validation")
    return took, engine


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Target: per-event time with 200 events per child within 1.3x of one event "
               "per child.")
    parser.add_argument("--events", type=int, default=20_000,
                        help="handover events per measurement (default 20,000); the "
                             "children are events // per-child")
    parser.add_argument("--per-child", default="1,4,40,80,200",
                        help="comma-separated events per child to measure (default "
                             "1,4,40,80,200); the ratio compares the largest with the "
                             "smallest")
    parser.add_argument("--history", default="years,same-pair",
                        help="comma-separated kinds of history: years (realistic, spanning "
                             "years, several agency pairs) and same-pair (worst case: "
                             "every handover between the same two agencies); default both")
    parser.add_argument("--repeat", type=int, default=2,
                        help="measure each case this often, in rounds over all cases, and "
                             "keep the fastest (default 2)")
    parser.add_argument("--shuffle", type=float, default=0.0,
                        help="share of answers that arrive after later events of the "
                             "family (out-of-order arrival; default 0)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.per_child.split(",") if x.strip()]
    kinds = [x.strip() for x in args.history.split(",") if x.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "key"
        key_file.write_text("bench-engine-key" * 3)
        key = PseudonymKey.from_file(key_file)
        for kind in kinds:
            print(f"history {kind}: {args.events:,} handover events per row, best of "
                  f"{args.repeat}", flush=True)
            cases = {n: make_events(args.events, n, kind, key, args.seed, args.shuffle)
                     for n in sizes}
            results: dict[int, float] = {}
            windows: dict[int, int] = {}
            for _ in range(args.repeat):  # rounds over all cases: drift hits them alike
                for per_child, (consents, events) in cases.items():
                    took, engine = run(consents, events)
                    results[per_child] = min(took, results.get(per_child, took))
                    windows[per_child] = max((engine.stores.handovers.window(s).size()
                                              for s in engine.stores.handovers.families), default=0)
            for per_child, best in results.items():
                print(f"  {per_child:>4} per child {len(cases[per_child][0]):>6,} children "
                      f"{best * 1e6:8.1f} µs/event  ({1 / best:8,.0f} events/s)  "
                      f"largest family window: {windows[per_child]} handovers", flush=True)
            low, high = min(sizes), max(sizes)
            ratio = results[high] / results[low]
            print(f"  ratio {high}/{low} per child: {ratio:.2f}x "
                  f"({'within' if ratio <= 1.3 else 'NOT within'} 1.3x)", flush=True)


if __name__ == "__main__":
    main()
