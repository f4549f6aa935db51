"""deploy/grafana: the dashboards are valid Grafana JSON on the provisioned datasource, and
every metric (and label) their queries and the Prometheus rules read exists in the hub."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import connectors.delivery.metrics  # noqa: F401  (registers the metrics of `hub deliver`)
import hub.metrics  # noqa: F401  (registers the worker's and the connectors' metrics)
from tests.support.prometheus import (
    DASHBOARDS_DIR,
    RULES_FILE,
    alert_signals,
    dashboard_panels,
    label_matchers,
    metric_names,
    recording_rules,
)

PROVISIONING = DASHBOARDS_DIR.parent / "provisioning"
DATASOURCE = {"type": "prometheus", "uid": "hub-prometheus"}
DASHBOARDS = sorted(DASHBOARDS_DIR.glob("*.json"))
TARGET_LABELS = frozenset({"job", "instance"})
# series every scrape adds, and the alert states Prometheus records
BUILT_IN: dict[str, frozenset[str] | None] = {
    **dict.fromkeys(("up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"),
                    TARGET_LABELS),
    "ALERTS": None, "ALERTS_FOR_STATE": None,
}
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "untyped": ("",),
            "histogram": ("_bucket", "_count", "_sum", "_created"),
            "summary": ("", "_count", "_sum", "_created"), "info": ("_info",),
            "stateset": ("",), "gaugehistogram": ("_bucket", "_gcount", "_gsum")}


def known_metrics() -> dict[str, frozenset[str] | None]:
    """Every series name the hub's processes serve, with its label names (None: not known,
    e.g. a recording rule's), plus Prometheus's built-in series and the recording rules."""
    names: dict[str, frozenset[str] | None] = {}
    for family in REGISTRY.collect():
        for suffix in SUFFIXES[family.type]:
            name = family.name + suffix
            # prometheus_client keeps no public record of a labelled metric's label names
            collector = REGISTRY._names_to_collectors.get(name)
            labels = getattr(collector, "_labelnames", None)
            names[name] = None if labels is None else \
                frozenset(labels) | TARGET_LABELS | ({"le"} if suffix == "_bucket" else set())
    names.update(BUILT_IN)
    names.update({name: None for name, _ in recording_rules(RULES_FILE)})
    return names


KNOWN = known_metrics()


def problems(expr: str) -> list[str]:
    """What in ``expr`` does not exist: metric names, and label names of selectors."""
    found = [f"unknown metric {name}" for name in sorted(metric_names(expr))
             if name not in KNOWN]
    for metric, label in label_matchers(expr):
        labels = KNOWN.get(metric)
        if labels is not None and label not in labels:
            found.append(f"{metric} has no label {label} (it has {sorted(labels)})")
    return found


def dashboard(path: Path) -> dict:
    return json.loads(path.read_text())


def all_expressions() -> list[tuple[str, str]]:
    exprs = [(f"{path.name}: {panel['title']}", target["expr"])
             for path in DASHBOARDS for panel in dashboard_panels(dashboard(path))
             for target in panel.get("targets", []) if target.get("expr")]
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    exprs += [(f"alerts.yml: {rule.get('alert') or rule.get('record')}", rule["expr"])
              for group in groups for rule in group["rules"]]
    return exprs


def test_the_hub_metrics_are_known():
    """The registry walk found the hub's metrics (so that an empty set cannot pass)."""
    for name in ("hub_events_consumed_total", "hub_event_latency_seconds_bucket",
                 "hub_handovers_open", "hub_deliver_events_total", "up"):
        assert name in KNOWN
    assert KNOWN["hub_refusals_total"] >= {"reason", "municipality", "sender"}


def test_the_two_dashboards_are_there():
    titles = sorted(dashboard(path)["title"] for path in DASHBOARDS)
    assert titles == ["Hub operations", "Prevention chain"]


def test_dashboards_have_unique_uids_and_titles():
    uids = [dashboard(path)["uid"] for path in DASHBOARDS]
    titles = [dashboard(path)["title"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids) and all(uids)
    assert len(set(titles)) == len(titles) and all(titles)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_dashboard_is_valid(path):
    board = dashboard(path)
    assert 36 <= board["schemaVersion"] <= 41
    panels = dashboard_panels(board)
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids), "panel ids must be unique"
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        title, pos = panel["title"], panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, title
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{title} overlaps {cells[(x, y)]}"
                cells[(x, y)] = title
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "table", "gauge", "bargauge"}, title
        assert panel["datasource"] == DATASOURCE, title
        targets = [t for t in panel.get("targets", []) if t.get("expr", "").strip()]
        assert targets, f"{title}: no query"
        for target in targets:
            assert target["datasource"] == DATASOURCE, title
            assert target["refId"] and "legendFormat" in target, title
        assert len({t["refId"] for t in targets}) == len(targets), title


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_variables_are_queries_used_in_regex_matchers(path):
    """A live test puts ``.*`` for each variable, which only works in ``=~`` matchers."""
    board = dashboard(path)
    variables = board.get("templating", {}).get("list", [])
    for variable in variables:
        assert variable["type"] == "query" and variable["datasource"] == DATASOURCE
    names = {variable["name"] for variable in variables}
    for panel in dashboard_panels(board):
        for target in panel.get("targets", []):
            for used in re.finditer(r"\$\{?([A-Za-z_]\w*)", target.get("expr", "")):
                name = used.group(1)
                if name == "__rate_interval":
                    assert target["expr"][used.start() - 1] == "[", panel["title"]
                    continue
                assert name in names, f"{panel['title']}: ${name} is not a variable"
                assert target["expr"][:used.start()].endswith('=~"'), \
                    f"{panel['title']}: use ${name} as label=~\"${name}\""


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards():
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [source] = sources["datasources"]
    assert {"type": source["type"], "uid": source["uid"]} == DATASOURCE
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "hub.yml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.parametrize("expr", [pytest.param(expr, id=where)
                                  for where, expr in all_expressions()])
def test_every_expression_reads_metrics_that_exist(expr):
    assert metric_names(expr), "reads no metric"
    assert problems(expr) == []


def test_alert_signals_read_metrics_that_exist():
    for alert, signal in alert_signals(RULES_FILE):
        assert problems(signal) == [], alert


@pytest.mark.parametrize("expr, wrong", [
    ("sum by (topic) (rate(hub_events_consumd_total[5m]))", "unknown metric"),
    ('hub_refusals_total{reasn="no_consent"}', "has no label reasn"),
    ("histogram_quantile(0.95, sum by (le) (rate(hub_event_latency_bucket[5m])))",
     "unknown metric"),
    ("hub_handovers_open_total", "unknown metric"),
    ("municipality:hub_refusal:rate15m > 1", "unknown metric"),
])
def test_a_misspelt_metric_or_label_is_found(expr, wrong):
    assert any(wrong in problem for problem in problems(expr)), problems(expr)
