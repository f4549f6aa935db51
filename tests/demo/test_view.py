"""The demo's live view: the figures of the worker's and the connectors' metrics."""

from __future__ import annotations

from datetime import date

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.demo.view import Header, Snapshot, render, summary_line

HEAD = Header(seed=3, families=250, speed=43200, day=17, days=84, today=date(2026, 9, 24),
              elapsed=75.0, metrics=("worker http://127.0.0.1:9310/metrics",))


def scraped() -> list:
    """What a worker's /metrics would serve, read back as the view reads it."""
    r = CollectorRegistry()
    consumed = Counter("hub_events_consumed_total", "", ["topic", "type"], registry=r)
    consumed.labels("agency.jugendamt-kamen.outbox", "offer.made").inc(40)
    consumed.labels("agency.jobcenter-kreis-unna.outbox", "handover.requested").inc(12)
    consumed.labels("hub.ticks", "tick").inc(999)
    deliveries = Counter("hub_deliveries_total", "", ["recipient", "type"], registry=r)
    deliveries.labels("jugendamt-luenen", "handover.requested").inc(7)
    deliveries.labels("gesundheitsamt-kreis-unna", "offer.accepted").inc(5)
    refusals = Counter("hub_refusals_total", "", ["reason", "municipality", "sender"],
                       registry=r)
    refusals.labels("no_consent", "kamen", "jugendamt-kamen").inc(4)
    refusals.labels("no_consent", "werne", "jugendamt-werne").inc(2)
    refusals.labels("consent_revoked", "kamen", "jugendamt-kamen").inc(1)
    Counter("hub_handovers_stalled_total", "", ["municipality", "waiting_for"],
            registry=r).labels("kamen", "answer").inc(3)
    lag = Gauge("hub_consumer_lag", "", ["topic", "partition"], registry=r)
    lag.labels("agency.jugendamt-kamen.outbox", "0").set(6)
    rows = Counter("hub_connector_rows_total", "", ["agency", "result"], registry=r)
    rows.labels("jugendamt-kamen", "published").inc(52)
    rows.labels("jugendamt-kamen", "rejected").inc(2)
    Counter("hub_dead_letters_total", "", ["stage", "reason"],
            registry=r).labels("connector", "rejected_row").inc(2)
    return list(text_string_to_metric_families(generate_latest(r).decode()))


def test_the_screen_shows_the_figures_by_what_people_ask_about():
    screen = render(HEAD, Snapshot.of(scraped()))
    lines = {line.split()[0]: line for line in screen.splitlines() if line}
    assert "day 17 of 84" in screen and "Thu 2026-09-24" in screen and "1:15" in screen
    assert "http://127.0.0.1:9310/metrics" in screen
    assert "54 rows: 52 events published, 2 rejected" in lines["exports"]
    assert "offer.made 40" in screen and "handover.requested 12" in screen
    assert "jugendamt-kamen 40" in screen  # by agency: the outbox, not the ticks
    assert "tick" not in lines["events"]
    assert lines["deliveries"].startswith("deliveries       12: jugendamt-luenen 7")
    assert "7: no_consent 6  consent_revoked 1" in lines["refusals"]
    assert "3 stall notices" in lines["handovers"]
    assert "2: rejected_row 2" in lines["dead"]
    assert "6 records" in lines["consumer"]
    assert "worker not answering" not in screen


def test_a_silent_worker_is_said_and_empty_figures_are_zero():
    screen = render(HEAD, Snapshot.of([], worker_up=False))
    assert "[worker not answering]" in screen
    assert "deliveries       0: -" in screen


def test_the_log_line_has_the_main_figures():
    line = summary_line(HEAD, Snapshot.of(scraped()))
    assert line == ("day  17 (2026-09-24): 52 events published, 12 delivered, 7 refused, "
                    "0 duplicates, 3 stall notices, 2 dead letters, lag 6")
