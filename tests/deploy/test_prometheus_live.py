"""A real Prometheus (Debian's `prometheus`) scrapes the hub's metrics registry, served by
this test process, with deploy/prometheus/alerts.yml loaded: the harness of
tests/support/prometheus.py works, and Prometheus accepts every rule and every dashboard
query."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from hub.broker.local import free_port
from hub.metrics import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    HANDOVERS_OVERDUE,
    HANDOVERS_STALLED,
    PROCESSING_SECONDS,
    REFUSALS,
)
from tests.support.prometheus import (
    DASHBOARDS_DIR,
    JOBS,
    RULES_FILE,
    alert_signals,
    panel_queries,
    query,
    recording_rules,
    render_config,
    rules,
    start_prometheus,
)
from tests.support.waiting import wait_for

OUTBOX = "agency.jugendamt-kamen.outbox"


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = generate_latest(REGISTRY)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def metrics_target() -> Iterator[str]:
    """The hub's registry at http://127.0.0.1:PORT/metrics, with a few figures counted."""
    EVENTS_CONSUMED.labels(topic=OUTBOX, type="offer.accepted").inc(3)
    REFUSALS.labels(reason="no_consent", municipality="kamen", sender="jugendamt-kamen").inc()
    HANDOVERS_STALLED.labels(municipality="kamen", waiting_for="answer").inc()
    HANDOVERS_OVERDUE.labels(municipality="kamen").set(1)
    CONSUMER_LAG.labels(topic=OUTBOX, partition="0").set(2)
    PROCESSING_SECONDS.observe(0.004)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def prometheus(metrics_target, tmp_path_factory) -> Iterator[str]:
    """Prometheus scraping ``metrics_target`` as each of the hub's jobs, every second."""
    config = render_config({job: [metrics_target] for job in JOBS}, [RULES_FILE], "1s")
    running = start_prometheus(config, tmp_path_factory.mktemp("prometheus"), free_port())
    try:
        yield running.url
    finally:
        running.stop()


def test_prometheus_scrapes_and_evaluates_rules(prometheus):
    def scraped_by_every_job() -> list[dict] | None:
        found = query(prometheus, "hub_events_consumed_total")
        return found if {s["metric"]["job"] for s in found} == set(JOBS) else None

    consumed = wait_for(scraped_by_every_job, 30,
                        "each job's scrape of hub_events_consumed_total")
    # what the registry holds (other tests of the session may have counted too)
    ours = [s for s in consumed if s["metric"]["topic"] == OUTBOX
            and s["metric"]["type"] == "offer.accepted"]
    expected = REGISTRY.get_sample_value("hub_events_consumed_total",
                                         {"topic": OUTBOX, "type": "offer.accepted"})
    assert expected >= 3
    assert sorted(s["metric"]["job"] for s in ours) == sorted(JOBS)
    assert {float(s["value"][1]) for s in ours} == {expected}

    def evaluated() -> list[dict] | None:
        loaded = rules(prometheus)
        return loaded if loaded and all(r["health"] != "unknown" for r in loaded) else None

    loaded = wait_for(evaluated, 30, "every rule's first evaluation")
    health = {r["name"]: (r["health"], r.get("lastError", "")) for r in loaded}
    expected = {name for name, _ in alert_signals(RULES_FILE)} | \
        {name for name, _ in recording_rules(RULES_FILE)}
    assert set(health) == expected
    assert {name: h for name, h in health.items() if h[0] != "ok"} == {}


def test_prometheus_accepts_every_dashboard_query_and_alert_signal(prometheus):
    """Parsed and evaluated by Prometheus itself (query raises on Prometheus's error)."""
    exprs = [expr for path in sorted(DASHBOARDS_DIR.glob("*.json"))
             for _, expr in panel_queries(path)]
    exprs += [signal for _, signal in alert_signals(RULES_FILE)]
    assert len(exprs) > 30
    for expr in exprs:
        query(prometheus, expr)
    # and a query Prometheus cannot parse is reported with its error
    with pytest.raises(AssertionError, match="bad_data"):
        query(prometheus, "sum(rate(hub_events_consumed_total[5m])")
