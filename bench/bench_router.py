"""Benchmark the router on the local broker against a bare consume -> produce passthrough.

Pushes N handover requests (default 200,000; every child invented, each with a consent)
through ``hub run`` from an agency outbox to an inbox, and the same bytes through a bare
Faust passthrough (same client, same broker, same run). Prints events per second and
end-to-end latency p50/p99 (send to arrival) of both, and the ratios.

    python bench/bench_router.py [--n 200000] [--children 2000]

It starts its own broker in a temporary folder (free ports) and stops it at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connectors.facts import (  # noqa: E402
    ConsentFacts,
    EventFacts,
    Person,
    build_consent_envelope,
    build_envelope,
)
from hub.agencies import load_agencies  # noqa: E402
from hub.broker.local import LocalBroker, free_port  # noqa: E402
from hub.contract.codec import get_codec, peek_event_id  # noqa: E402
from hub.kafka_io import admin_client, consumer, producer  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402
from hub.topics import apply_topics, plan_topics  # noqa: E402

SENDER, RECIPIENT = "jugendamt-kamen", "grundschule-kamen-mitte"


def make_events(n: int, children: int, key: PseudonymKey):
    agencies = load_agencies()
    codec = get_codec()
    consents, events = [], []
    for c in range(children):
        person = Person(f"Kind{c}", "Bench", date(2020, 1, 1 + c % 28))
        consent = build_consent_envelope(ConsentFacts(
            SENDER, f"EW-B-{c}", True, person, "kamen", "uebergang_kita_schule",
            (RECIPIENT,), date(2026, 1, 1), None, date(2026, 1, 1)), key, agencies)
        consents.append((consent.subject.encode(), codec.encode(consent)))
    people = [Person(f"Kind{c}", "Bench", date(2020, 1, 1 + c % 28)) for c in range(children)]
    template = build_envelope(EventFacts(
        SENDER, "JA-B-0", "handover.requested", date(2026, 9, 16), people[0], "kamen",
        "uebergang_kita_schule", recipient=RECIPIENT, handover_id="UE-B-0"), key, agencies)
    subjects = [build_envelope(EventFacts(
        SENDER, "x", "handover.requested", date(2026, 9, 16), p, "kamen",
        "uebergang_kita_schule", recipient=RECIPIENT, handover_id="UE-B-0"), key,
        agencies).subject for p in people]
    for i in range(n):
        subject = subjects[i % children]
        envelope = template.model_copy(update={
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{i}")), "subject": subject,
            "correlation_id": f"UE-B-{i}", "payload": template.payload.model_copy(
                update={"handover_id": f"UE-B-{i}"})})
        events.append((subject.encode(), codec.encode(envelope)))
    return consents, events


def push_and_measure(bootstrap: str, source: str, sink: str, events, keys_for_consents=()):
    kc = consumer(bootstrap, group_id=None, enable_auto_commit=False)
    from kafka import TopicPartition
    tps = [TopicPartition(sink, p) for p in kc.partitions_for_topic(sink)]
    kc.assign(tps)
    kc.seek_to_end(*tps)
    for tp in tps:
        kc.position(tp)
    kp = producer(bootstrap, "bench")
    sent_at: dict[str, float] = {}
    for key, value in keys_for_consents:
        kp.send(source, key=key, value=value)
    start = time.monotonic()
    for key, value in events:
        sent_at[peek_event_id(value)] = time.monotonic()
        kp.send(source, key=key, value=value)
    kp.flush()
    latencies, last = [], start
    deadline = time.monotonic() + 900
    while len(latencies) < len(events) and time.monotonic() < deadline:
        for records in kc.poll(timeout_ms=500).values():
            now = time.monotonic()
            for record in records:
                sent = sent_at.pop(peek_event_id(record.value) or "", None)
                if sent is not None:
                    latencies.append(now - sent)
                    last = now
    kp.close()
    kc.close()
    elapsed = last - start
    latencies.sort()
    return {"events": len(latencies), "rate": len(latencies) / elapsed if elapsed else 0,
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")}


def start(cmd, env, log):
    out = open(log, "wb")
    return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(log: Path, text: str, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit(f"not ready: {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--children", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key_file = tmp / "key"
        key_file.write_text("bench-router-key" * 3)
        key = PseudonymKey.from_file(key_file)
        broker = LocalBroker(tmp / "home", free_port(), free_port())
        broker.start(progress=lambda m: None)
        procs = []
        try:
            bootstrap = broker.bootstrap
            agencies = load_agencies()
            with admin_client(bootstrap) as admin:
                from kafka.admin import NewTopic
                apply_topics(admin, plan_topics(agencies))
                admin.create_topics([NewTopic("bench.source", 3, 1), NewTopic("bench.sink", 3, 1)])
            print(f"preparing {args.n:,} events for {args.children:,} children ...", flush=True)
            consents, events = make_events(args.n, args.children, key)

            procs.append(start([sys.executable, "bench/passthrough.py", bootstrap,
                                "bench.source", "bench.sink"], os.environ, tmp / "pass.log"))
            wait_ready(tmp / "pass.log", "Worker]: Ready")
            base = push_and_measure(bootstrap, "bench.source", "bench.sink", events)
            procs.pop().terminate()

            env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=bootstrap, HUB_HOME=str(tmp / "home"),
                       HUB_CLOCK_START="2026-11-24T12:00:00+00:00", HUB_LOG_LEVEL="info")
            procs.append(start([sys.executable, "-m", "hub", "run"], env, tmp / "router.log"))
            wait_ready(tmp / "router.log", "Worker]: Ready")
            outbox = agencies.get(SENDER).outbox
            routed = push_and_measure(bootstrap, outbox, agencies.get(RECIPIENT).inbox, events,
                                      keys_for_consents=consents)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(60)
            broker.stop()
    for name, r in (("passthrough", base), ("router", routed)):
        print(f"{name:<12} {r['events']:>9,} events  {r['rate']:>9,.0f} events/s  "
              f"p50 {r['p50'] * 1000:8.1f} ms  p99 {r['p99'] * 1000:8.1f} ms")
    print(f"ratio router/passthrough: throughput {routed['rate'] / base['rate']:.3f}, "
          f"p50 latency {routed['p50'] / base['p50']:.1f}x, "
          f"p99 latency {routed['p99'] / base['p99']:.1f}x")


if __name__ == "__main__":
    main()
