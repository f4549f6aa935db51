"""``hub demo``: the hub working end to end on a local broker, in one command.

Starts the local broker (unless one runs), applies the topics, starts the worker, ingests
the example youth-office export and shows each event as it arrives in an agency inbox.
Stops the worker, and the broker if the demo started it, when done or on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hub.agencies import load_agencies
from hub.paths import PROJECT_ROOT
from hub.settings import Settings, write_new_key

EXAMPLES = PROJECT_ROOT / "connectors" / "examples"


def example_exports() -> list[Path]:
    """The example exports, consent exports first."""
    return sorted(EXAMPLES.glob("*.csv"), key=lambda p: (not p.name.startswith("einw"), p.name))


def say(message: str) -> None:
    print(message, flush=True)


def ensure_demo_key(settings: Settings) -> Path:
    """The key file of the settings, or a demo key under HUB_HOME (created once)."""
    if settings.pseudonym_key_file:
        return settings.pseudonym_key_file
    path = settings.home / "demo-pseudonym.key"
    if not path.exists():
        write_new_key(path)
        say(f"demo pseudonymisation key created: {path}")
    return path


def start_worker(settings: Settings, key_file: Path) -> tuple[subprocess.Popen, Path]:
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "worker.log"
    env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=settings.bootstrap,
               HUB_PSEUDONYM_KEY_FILE=str(key_file), HUB_HOME=str(settings.home))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    return proc, log_path


def stop_process(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def describe_arrival(inbox: str, event: dict) -> str:
    parts = [f"{event['type']} from {event['source']}", f"purpose {event['purpose']}",
             f"{event['municipality']}/{event['life_phase']}"]
    if event.get("correlation_id"):
        parts.append(f"handover {event['correlation_id']}")
    parts.append(f"subject {event['subject'][:12]}…")
    return f"  -> {inbox:<40} " + ", ".join(parts)


def expected_deliveries(settings: Settings, agencies, key) -> int:
    """What the worker will deliver of the examples: the routing engine run in memory, on
    top of what the inboxes already hold (a second run delivers nothing twice)."""
    from datetime import timedelta

    from connectors.ingest import convert_file
    from hub.clock import clock_from_settings
    from hub.contract.codec import get_codec
    from hub.routing.delivered import DeliveredSet, scan_inbox_partition
    from hub.routing.engine import Incoming, RoutingEngine
    from hub.routing.rules import Router

    delivered = DeliveredSet(timedelta(days=settings.dedupe_retention_days))
    inbox_names = {a.inbox: a.id for a in agencies.exchanging()}
    for partition in range(3):
        scan_inbox_partition(settings.bootstrap, inbox_names, partition, delivered)
    engine = RoutingEngine(agencies, Router(agencies), clock_from_settings(settings),
                           timedelta(hours=settings.hold_window_hours), delivered, {}, {}, {})
    codec = get_codec()
    outputs = []
    for path in example_exports():
        converted = convert_file(path, agencies, key)
        outputs += [o for e in converted.events for o in engine.process(
            Incoming(converted.topic, 0, 0, codec.encode(e)))]
    outputs += engine.expire(0)  # handovers already past their deadline: stall notices
    return sum(o.topic.endswith(".inbox") for o in outputs)


def show_analytics(settings: Settings, timeout: float = 30.0) -> None:
    """Wait until the worker has published the analytics cells, and say how to see them."""
    import time
    from datetime import timedelta

    from hub.analytics.records import WEEKLY_ACTIVITY
    from hub.report.load import latest_cells

    say("waiting for the analytics cells (published every "
        f"{settings.analytics_publish_seconds:g} s)")
    deadline = time.monotonic() + timeout
    while True:
        cells = latest_cells(settings.bootstrap)
        if cells[WEEKLY_ACTIVITY] or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    weeks = sorted(r["week_start"] for r in cells[WEEKLY_ACTIVITY])
    total = sum(len(v) for v in cells.values())
    withheld = sum(r["suppressed"] for v in cells.values() for r in v)
    if not weeks:
        say("no analytics cells yet; see the worker log")
        return
    say(f"analytics: {total} cells, {withheld} of them withheld (fewer than "
        f"{settings.analytics_k} children: the examples are a handful of families). With the "
        f"broker running, `hub report --from {weeks[0]} --to {weeks[-1] + timedelta(days=6)} "
        "--out report.html` "
        "writes the district report from them.")


def run_demo(settings: Settings, timeout: float = 120.0, keep: bool = False) -> int:
    from connectors.ingest import Conversion, publish
    from hub.broker.local import LocalBroker
    from hub.kafka_io import admin_client, producer
    from hub.tail import Tail
    from hub.topics import apply_topics, plan_topics

    agencies = load_agencies()
    broker = LocalBroker(settings.home, settings.broker_port, settings.controller_port,
                         settings.kafka_libs_dir, settings.broker_heap)
    started_broker = False
    if settings.bootstrap_servers:
        say(f"using the broker at {settings.bootstrap}")
    else:
        status, started_broker = broker.start(progress=say)
        say(f"broker {'started' if started_broker else 'already running'} at "
            f"{status.bootstrap}")
    worker = None
    try:
        with admin_client(settings.bootstrap) as admin:
            report = apply_topics(admin, plan_topics(agencies))
        say(f"topics: {report.lines()[-1]}")
        key_file = ensure_demo_key(settings)
        key_settings = settings.model_copy(update={"pseudonym_key_file": key_file})
        key = key_settings.pseudonym_key
        expected = expected_deliveries(settings, agencies, key)
        inboxes = [a.inbox for a in agencies.exchanging()]
        arrivals = Tail(settings.bootstrap, inboxes, max_records=expected, timeout=timeout)
        worker, worker_log = start_worker(settings, key_file)
        say(f"worker started (pid {worker.pid}, log {worker_log})")
        kp = producer(settings.bootstrap, client_id="demo-connector")
        try:
            for path in example_exports():
                conversion = Conversion(path, agencies, key)
                summary = publish(conversion, kp, report=lambda m: say(f"  {m}"))
                say(f"ingested {path.name}: {summary.describe(conversion.topic)}")
        finally:
            kp.close()
        if expected == 0:
            say("every delivery of the examples was made in an earlier run, and nothing is "
                "delivered twice; see the decisions with `hub tail hub.audit --from-beginning`")
        else:
            say(f"waiting for {expected} deliveries in the agency inboxes (the other events "
                "are refused, held for a consent, or go to analytics only):")
        got = 0
        for record in arrivals:
            if record.value:
                say(describe_arrival(record.topic, record.value))
                got += 1
            if worker.poll() is not None:
                break
        if got < expected:
            say(f"only {got} of {expected} deliveries arrived; worker log: {worker_log}")
            return 1
        if expected:
            say(f"all {expected} deliveries arrived.")
        show_analytics(settings)
        if keep:
            say(f"broker ({settings.bootstrap}) and worker keep running; try in another "
                "terminal:\n"
                f"  HUB_BOOTSTRAP_SERVERS={settings.bootstrap} HUB_PSEUDONYM_KEY_FILE={key_file} "
                "hub ingest YOUR_EXPORT.csv\n"
                "with an export in one of the formats of connectors/examples (the examples "
                "themselves are recognised as duplicates and not delivered again). Every "
                "further delivery shows here. Ctrl-C stops what the demo started.")
            stopping = []
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stopping.append(True))
            for record in Tail(settings.bootstrap, inboxes, stop=lambda: bool(stopping)):
                if record.value:
                    say(describe_arrival(record.topic, record.value))
            say("stopping")
            return 130
        else:
            say("Run `hub demo --keep` to keep the hub running and look around with `hub tail`.")
        return 0
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        if worker is not None:
            stop_process(worker)
            say("worker stopped")
        if started_broker:
            broker.stop()
            say("broker stopped")
