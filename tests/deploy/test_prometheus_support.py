"""The pure helpers of tests/support/prometheus.py: splitting alert expressions into
signals, Grafana variable substitution, which metrics an expression reads, test configs."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.prometheus import (
    JOBS,
    RULES_FILE,
    alert_signals,
    label_matchers,
    metric_names,
    panel_queries,
    recording_rules,
    render_config,
    split_signals,
    substitute_variables,
)


@pytest.mark.parametrize("expr, signals", [
    ("sum(rate(x[5m])) by (a) > 0.5 and on() day_of_week() < 6",
     ["sum(rate(x[5m])) by (a)", "day_of_week()"]),
    ('up{job="hub-worker"} == 0', ['up{job="hub-worker"}']),
    ("a / b > 3", ["a / b"]),
    ("a > b", ["a > b"]),  # not against a number: the whole term is the signal
    ("5 < bool x", ["x"]),
    ("x >= -1.5e3 or y != Inf", ["x", "y"]),
    # and/or inside strings, matchers, by-lists and function arguments do not split
    ('x{reason="and or unless", a=~"or"} > 1', ['x{reason="and or unless", a=~"or"}']),
    ("sum by (and_or) (x) > 1 unless ignoring(or) y > 2", ["sum by (and_or) (x)", "y"]),
    ("max(x > 1 or y) > 2", ["max(x > 1 or y)"]),
    # a term wholly in parentheses is split in turn
    ("(a > 1 or b < 2) and on(topic) c", ["a", "b", "c"]),
    ("x > 1 and ignoring(i) group_left y > 2", ["x", "y"]),
    ("onward_metric > 1 and orbit > 2", ["onward_metric", "orbit"]),
    ("a > 1\nand\nb > 0", ["a", "b"]),
])
def test_split_signals(expr, signals):
    assert split_signals(expr) == signals


def test_split_signals_refuses_unbalanced_brackets():
    with pytest.raises(ValueError, match="unbalanced"):
        split_signals("sum(rate(x[5m]) > 1")


@pytest.mark.parametrize("expr, expected", [
    ("rate(x[$__rate_interval])", "rate(x[1m])"),
    ("rate(x[${__rate_interval}])", "rate(x[1m])"),
    ('x{municipality=~"$municipality", a=~"${agency:regex}"}', 'x{municipality=~".*", a=~".*"}'),
    ('label_replace(x, "s", "$1", "t", "(.*)")', 'label_replace(x, "s", "$1", "t", "(.*)")'),
])
def test_substitute_variables(expr, expected):
    assert substitute_variables(expr) == expected


@pytest.mark.parametrize("expr, names", [
    ("sum by (topic, type) (rate(hub_events_consumed_total[$__rate_interval]))",
     {"hub_events_consumed_total"}),
    ("histogram_quantile(0.95, sum by (le) (rate(hub_event_latency_seconds_bucket[5m])))",
     {"hub_event_latency_seconds_bucket"}),
    ('up{job="hub-worker"} == 0', {"up"}),
    ("municipality:hub_refusals:rate15m / municipality:hub_refusals:rate15m_avg1d > 3",
     {"municipality:hub_refusals:rate15m", "municipality:hub_refusals:rate15m_avg1d"}),
    ('label_replace(rate(a{topic=~"agency\\\\..+"}[1h]), "sender", "$1", "topic", "x")', {"a"}),
    ("max without (instance) (a offset 1h) > 1e3 and on() day_of_week() < 6", {"a"}),
    ("sum(a @ start()) / count(b[5m:1m])", {"a", "b"}),
])
def test_metric_names(expr, names):
    assert metric_names(expr) == names


def test_label_matchers():
    assert label_matchers('sum(a{x="1", y=~"b{c}"}) / b{z!="q"} + c') == [
        ("a", "x"), ("a", "y"), ("b", "z")]


def test_panel_queries_substitute_and_include_panels_in_rows(tmp_path):
    board = {"panels": [
        {"type": "row", "title": "Row", "panels": [
            {"title": "Inside", "targets": [{"expr": "rate(a[$__rate_interval])"}]}]},
        {"title": "Top", "targets": [{"expr": 'b{m=~"$municipality"}'}, {"expr": ""},
                                     {"refId": "B"}]},
    ]}
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    assert panel_queries(path) == [("Inside", "rate(a[1m])"), ("Top", 'b{m=~".*"}')]


def test_alert_signals_and_recording_rules(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "job:a:rate5m", "expr": "sum by (job) (rate(a[5m]))\n"},
        {"alert": "A", "expr": "job:a:rate5m > 1 and on() hour() >= 17"},
        {"alert": "B", "expr": "b == 0"},
    ]}]}))
    assert alert_signals(path) == [("A", "job:a:rate5m"), ("A", "hour()"), ("B", "b")]
    assert recording_rules(path) == [("job:a:rate5m", "sum by (job) (rate(a[5m]))")]


def test_the_real_rules_split_into_signals():
    signals = alert_signals(RULES_FILE)
    for alert, signal in signals:
        assert split_signals(signal) == [signal], f"{alert}: {signal} splits further"
    assert ("HubWorkerDown", 'up{job="hub-worker"}') in signals


def test_render_config_keeps_the_jobs_and_sets_targets_rules_and_interval(tmp_path):
    rules = tmp_path / "rules.yml"
    config = yaml.safe_load(render_config(
        {"hub-worker": ["127.0.0.1:1234"], "hub-deliver": ["127.0.0.1:1235"]}, [rules], "2s"))
    assert {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]} == {
        "hub-worker": [{"targets": ["127.0.0.1:1234"]}],
        "hub-deliver": [{"targets": ["127.0.0.1:1235"]}],
    }
    assert config["rule_files"] == [str(rules)]
    assert config["global"]["scrape_interval"] == "2s"
    assert config["global"]["evaluation_interval"] == "2s"
    assert set(JOBS) == {"hub-worker", "hub-connectors", "hub-deliver"}
    with pytest.raises(KeyError, match="hub-wroker"):
        render_config({"hub-wroker": ["127.0.0.1:1"]})
