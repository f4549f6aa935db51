"""The worker while its broker is gone: a few lines instead of thousands, a gauge that
shows it, a line when the broker is back, and a stop within 30 s of SIGTERM even when the
broker is not there to commit to. Uses a broker of its own (the session's is never
stopped)."""

from __future__ import annotations

import re
import signal
import time
import urllib.request

import pytest

from hub.broker.local import LocalBroker, free_port
from tests.support.session import KafkaEnv, Worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory, key_file):
    home = tmp_path_factory.mktemp("outage-home")
    broker = LocalBroker(home, port=free_port(), controller_port=free_port(), heap="384m")
    broker.start(progress=lambda message: None)
    env = KafkaEnv(broker, home, key_file)
    try:
        result = env.hub("topics", "apply")
        assert result.returncode == 0, result.stderr
        yield env
    finally:
        broker.stop()


def test_a_backlog_drains_through_a_slow_router_and_nothing_is_read_again(own_broker,
                                                                          tmp_path):
    """3,000 handover requests wait while no worker runs; then a worker whose router is
    slower than its input (3 ms of CPU more per event) drains them: every request arrives
    once, and no partition is read again for looking stuck while it was only slow."""
    import subprocess
    import sys
    from collections import Counter

    from connectors.ingest import Conversion
    from hub.agencies import load_agencies
    from hub.settings import PseudonymKey
    from hub.tail import Tail
    from tests.support.flows import flow_exports
    from tests.support.paths import REPO

    env = own_broker
    sender, recipient = "kreisjugendamt-unna", "jugendamt-unna"
    consents, requests = flow_exports(tmp_path, "slow", sender, recipient, children=30,
                                      each=100)
    sent = {o.envelope.id for o in Conversion(requests, load_agencies(), PseudonymKey.from_file(
        env.key_file)).outcomes() if o.envelope}
    for path in (consents, requests):
        result = env.hub("ingest", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "hub", "run"], cwd=REPO, stdout=out,
            stderr=subprocess.STDOUT, env=env.env(HUB_ROUTER_DELAY_MS="3",
                                                  HUB_METRICS_PORT="0"))
    try:
        arrived: Counter = Counter()
        for record in Tail(env.bootstrap, [f"agency.{recipient}.inbox"], from_beginning=True,
                           timeout=90):
            if record.value and record.value["id"] in sent:
                arrived[record.value["id"]] += 1
                if len(arrived) == len(sent):
                    break
        text = log.read_text(errors="replace")
        assert worker.poll() is None, text[-3000:]
        assert len(arrived) == len(sent), f"{len(sent) - len(arrived)} never arrived"
        assert max(arrived.values()) == 1
        assert "reading them again" not in text and "did not reach the stream" not in text
        assert "Traceback" not in text
    finally:
        worker.terminate()
        worker.wait(40)


def connected(port: int, broker: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        text = page.read().decode()
    match = re.search(rf'^hub_kafka_connected{{broker="{re.escape(broker)}"}} (\S+)$', text,
                      re.MULTILINE)
    return float(match.group(1)) if match else None


def test_a_broker_outage_is_a_few_lines_and_a_gauge_and_sigterm_stops_the_worker(
        own_broker, tmp_path):
    env, broker = own_broker, own_broker.broker
    worker = Worker(env, tmp_path / "worker.log")
    worker.start()
    try:
        assert connected(worker.metrics_port, env.bootstrap) == 1.0
        broker.stop()
        down_at = wait_for(lambda: "is unreachable" in worker.log_text() and len(
            worker.log_text().splitlines()), 20, "the worker to say the broker is gone")
        assert connected(worker.metrics_port, env.bootstrap) == 0.0
        time.sleep(8)  # the Kafka client logs about 150 lines a second without the filter
        during = worker.log_text().splitlines()[down_at:]
        assert len(during) < 15, "\n".join(during)

        broker.start(progress=lambda message: None)
        wait_for(lambda: "is reachable again" in worker.log_text(), 30,
                 "the worker to say the broker is back")
        assert connected(worker.metrics_port, env.bootstrap) == 1.0

        broker.stop()  # gone again, and then the worker is told to stop
        wait_for(lambda: worker.log_text().count("is unreachable") == 2, 20,
                 "the second outage")
        asked = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.wait(40)
        took = time.monotonic() - asked
        assert took < 30, f"the worker took {took:.0f} s to stop"
        assert "exiting without waiting for the broker" in worker.log_text()
    finally:
        worker.stop()


def test_hub_deliver_carries_on_after_its_broker_restarted_and_stops_at_once(own_broker,
                                                                            tmp_path):
    import subprocess
    import sys
    import uuid
    from datetime import UTC, datetime

    from hub.contract.codec import get_codec
    from hub.kafka_io import producer
    from tests.handover.flow import offer, subject_of
    from tests.support.paths import REPO

    env, broker = own_broker, own_broker.broker
    broker.start(progress=lambda message: None)  # the test before may have left it stopped
    files = tmp_path / "files"
    log = tmp_path / "deliver.log"

    def deliver_one() -> str:
        event = offer("jugendamt-kamen", subject_of(f"outage-{uuid.uuid4()}"),
                      datetime(2026, 11, 20, 10, tzinfo=UTC), "familienbildung")
        p = producer(env.bootstrap, "test-outage")
        try:
            p.send("agency.jugendamt-kamen.inbox", key=event.subject.encode(),
                   value=get_codec().encode(event)).get(30)
        finally:
            p.close()
        return event.id

    def in_files(event_id: str) -> bool:
        return any(event_id in f.read_text() for f in files.glob("*.csv"))

    with open(log, "wb") as out:
        deliver = subprocess.Popen(
            [sys.executable, "-m", "hub", "deliver", "jugendamt-kamen", "--to-dir",
             str(files), "--batch-seconds", "1"], cwd=REPO, env=env.env(),
            stdout=out, stderr=subprocess.STDOUT)
    try:
        first = deliver_one()
        wait_for(lambda: in_files(first), 60, "the first event in a file")
        broker.stop()
        time.sleep(5)
        broker.start(progress=lambda message: None)
        second = deliver_one()
        wait_for(lambda: in_files(second), 90, "an event sent after the restart in a file")
        assert deliver.poll() is None, log.read_text()
        deliver.send_signal(signal.SIGTERM)
        assert deliver.wait(30) == 0, log.read_text()
    finally:
        if deliver.poll() is None:
            deliver.kill()
