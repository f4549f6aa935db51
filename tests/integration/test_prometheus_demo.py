"""A real Prometheus (Debian's `prometheus`) scrapes a running hub during a short demo: the
worker, the demo's connectors and a `hub deliver` process. Every query of every Grafana
panel, every alert's signal and every recording rule must parse and return data, so no
panel or alert points at a metric the hub does not serve."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub.broker.local import free_port
from tests.support.paths import REPO
from tests.support.prometheus import (
    DASHBOARDS_DIR,
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

pytestmark = pytest.mark.kafka

RECEIVER_AGENCY = "jugendamt-luenen"


class _Receiver(BaseHTTPRequestHandler):
    """An agency's webhook: takes every event."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Output:
    """A process's output lines, read by a thread as they come."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def text(self) -> str:
        return "".join(self.lines)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def every_query() -> list[tuple[str, str]]:
    queries = [(f"{path.stem}: {title}", expr) for path in sorted(DASHBOARDS_DIR.glob("*.json"))
               for title, expr in panel_queries(path)]
    queries += [(f"alert {name}", expr) for name, expr in alert_signals(RULES_FILE)]
    queries += [(f"rule {name}", expr) for name, expr in recording_rules(RULES_FILE)]
    return queries


def test_every_panel_alert_and_rule_returns_data_while_the_demo_runs(demo_env, tmp_path):
    env, broker_port = demo_env
    worker, connectors, deliver = int(env["HUB_METRICS_PORT"]), free_port(), free_port()
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    prometheus = start_prometheus(
        render_config({"hub-worker": [f"127.0.0.1:{worker}"],
                       "hub-connectors": [f"127.0.0.1:{connectors}"],
                       "hub-deliver": [f"127.0.0.1:{deliver}"]}, [RULES_FILE], "1s"),
        tmp_path / "prometheus", free_port())
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--weeks", "5", "--speed", "250000",
         "--families", "300", "--seed", "11", "--view", "lines", "--keep",
         "--metrics-port", str(connectors)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    demo_out = Output(demo)
    delivering = None
    try:
        wait_for(lambda: demo_out.has("worker started") or demo.poll() is not None, 180,
                 "the demo's broker and worker")
        delivering = subprocess.Popen(
            [sys.executable, "-m", "hub", "deliver", RECEIVER_AGENCY, "--webhook",
             f"http://127.0.0.1:{receiver.server_port}/events", "--metrics-port",
             str(deliver)],
            env={**env, "HUB_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker_port}"}, cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deliver_out = Output(delivering)
        wait_for(lambda: demo_out.has("the hub keeps running") or demo.poll() is not None,
                 300, "the demo's five weeks")
        assert demo.poll() is None, demo_out.text()

        queries = every_query()
        assert len(queries) > 40
        missing: dict[str, str] = {}

        def all_answer() -> bool:
            missing.clear()
            for where, expr in queries:
                if not query(prometheus.url, expr):  # raises on a query it cannot parse
                    missing[where] = expr
            return not missing

        try:
            wait_for(all_answer, 60, "data for every query", interval=2)
        except AssertionError:
            raise AssertionError("no data for:\n" + "\n".join(
                f"  {where}: {expr}" for where, expr in missing.items())) from None
        # every rule is evaluated without error
        assert {r["name"]: r.get("lastError") for r in rules(prometheus.url)
                if r["health"] != "ok"} == {}
        # the figures are the demo's: deliveries reached the webhook
        delivered = query(prometheus.url, 'sum(hub_deliver_events_total{channel="webhook"})')
        assert float(delivered[0]["value"][1]) > 0, deliver_out.text()
    finally:
        if delivering is not None:
            stop(delivering)
        stop(demo)
        prometheus.stop()
        receiver.shutdown()
    assert "worker stopped" in demo_out.text()
