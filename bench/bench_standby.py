"""Benchmark what the standby copies of the router's tables give: the time a worker takes
to go on with a killed worker's partitions, with and without them.

For each number of copies (``HUB_STANDBY_REPLICAS``, default ``1,0``), on a broker of its
own: two router workers (``hub run --role router``) in one group route C children's
consents and N handover requests (the state the takeover needs), then one of them is
killed (SIGKILL) and P new requests, one for each of P children (all partitions), are
sent at once. It prints when they arrived: the median, and the last, which is the
killed worker's partitions going on in the other worker (the group's session timeout of
10 s, the rebalance, and the partitions' state: at hand with a copy, read from the
changelogs without).

What the copies cost while routing is the other half of the trade; measure it with
``HUB_STANDBY_REPLICAS=<k> python bench/bench_router.py --only router --workers 1,2
--analytics apart``, each k alternately (docs/operations.md, "Standby copies").

    python bench/bench_standby.py [--children 20000] [--events 40000] [--probes 1000]
                                  [--copies 1,0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_router import (  # noqa: E402
    APP_ID,
    CLOCK_START,
    RECIPIENT,
    SENDER,
    Processes,
    make_events,
    measure,
    prepare_topics,
    wait_for_group,
)
from hub.agencies import load_agencies  # noqa: E402
from hub.broker.local import LocalBroker, free_port  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402
from hub.topics import plan_topics  # noqa: E402


def takeover(copies: int, args, folder: Path, key: PseudonymKey) -> dict[str, float]:
    """One round with ``copies`` standby copies; returns the probes' arrival figures (s)."""
    agencies = load_agencies()
    outbox, inbox = agencies.get(SENDER).outbox, agencies.get(RECIPIENT).inbox
    broker = LocalBroker(folder / "home", free_port(), free_port())
    procs = Processes(folder)
    try:
        broker.start(progress=lambda m: None)
        prepare_topics(broker.bootstrap, plan_topics(agencies))
        consents, events = make_events(args.events, args.children, key, tag="warm-")
        _, probes = make_events(args.probes, args.children, key, tag="probe-")
        env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=broker.bootstrap,
                   HUB_HOME=str(folder / "home"), HUB_APP_ID=APP_ID,
                   HUB_CLOCK_START=CLOCK_START, HUB_LOG_LEVEL="info", HUB_METRICS_PORT="0",
                   HUB_STANDBY_REPLICAS=str(copies))
        cmd = [sys.executable, "-m", "hub", "run", "--role", "router"]
        for k in range(2):
            procs.start(f"worker-{k}", cmd, dict(env, HUB_WORKER_ID=f"standby-{k}"),
                        "Worker]: Ready")
        wait_for_group(broker.bootstrap, APP_ID, 2)
        print(f"  {copies} copies: routing {len(consents):,} consents and {len(events):,} "
              "requests ...", flush=True)
        warm = measure("warm", broker.bootstrap, outbox, inbox, events, consents)
        if warm.delivered < warm.sent:
            raise RuntimeError(f"only {warm.delivered:,} of {warm.sent:,} requests arrived")
        time.sleep(args.settle)  # the copies follow the changelogs
        print(f"  {copies} copies: killing worker-1, sending {len(probes):,} requests",
              flush=True)
        procs.running["worker-1"][0].kill()
        probe = measure("probe", broker.bootstrap, outbox, inbox, probes,
                        drain_timeout=args.timeout)
        arrived = probe.latencies
        return {"arrived": len(arrived), "sent": probe.sent,
                "median": arrived[len(arrived) // 2] if arrived else float("nan"),
                "last": arrived[-1] if arrived else float("nan")}
    finally:
        procs.stop_all()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--children", type=int, default=20_000,
                        help="children with a consent and requests (default 20,000)")
    parser.add_argument("--events", type=int, default=40_000,
                        help="requests routed before the kill (default 40,000)")
    parser.add_argument("--probes", type=int, default=1_000,
                        help="requests sent at the kill, one per child (default 1,000)")
    parser.add_argument("--copies", default="1,0",
                        help="the numbers of standby copies to run, in turn (default 1,0)")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds between the last routed request and the kill "
                        "(default 5)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="how long to wait for the probes after the kill (default 300)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "key"
        key_file.write_text("bench-standby-key" * 3)
        key = PseudonymKey.from_file(key_file)
        for round_, copies in enumerate(int(c) for c in args.copies.split(",")):
            folder = Path(tmp) / f"round-{round_}"
            folder.mkdir()
            rows.append((copies, takeover(copies, args, folder, key)))
    print(f"\n{args.children:,} children, {args.events:,} requests routed by two workers; "
          f"one killed, {args.probes:,} requests sent at once:")
    print("  copies   arrived    median     last (the killed worker's partitions)")
    for copies, r in rows:
        print(f"  {copies:6d}  {r['arrived']:,}/{r['sent']:,}  {r['median']:7.1f} s  "
              f"{r['last']:7.1f} s")


if __name__ == "__main__":
    main()
