"""The worker's Prometheus endpoint: what it counted, in Prometheus's text format."""

from __future__ import annotations

import re
import urllib.request
import uuid
from datetime import timedelta

import pytest

from tests.handover.flow import offer, subject_of
from tests.integration.test_handovers import send
from tests.support.clock import hub_now
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        return page.read().decode()


def value(text: str, pattern: str) -> float:
    found = re.search(pattern + r" ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_the_worker_serves_what_it_processed(worker):
    port = worker.metrics_port
    count = r'hub_event_processing_seconds_count'
    consumed = (r'hub_events_consumed_total\{topic="agency.jugendamt-selm.outbox",'
                r'type="offer.accepted"\}')
    before = scrape(port)
    child = subject_of(f"metrics-{uuid.uuid4()}")
    send(worker.env.bootstrap, offer("jugendamt-selm", child, hub_now() - timedelta(days=1),
                                     "Elternkurs", "selm"))
    def counted():
        text = scrape(port)
        return text if value(text, consumed) > value(before, consumed) else None

    text = wait_for(counted, 60, "the offer in the worker's metrics")
    assert value(text, count) > value(before, count)
    # latency buckets in seconds, from a millisecond up
    assert 'hub_event_processing_seconds_bucket{le="0.001"}' in text
    latency = r'hub_event_latency_seconds_count'
    assert value(text, latency) > value(before, latency)
    # what the router wrote: the offer's fact for the analytics
    assert value(text, r'hub_events_produced_total\{topic="hub.facts",type="fact"\}') > 0
    assert "hub_held_events" in text
    assert child not in text  # no pseudonyms as labels
    # consents in force and open handovers, counted every 30 s, one series per purpose and
    # town; the lag of every partition the worker reads, every 5 s
    # (a count reads the consents, then the handovers a chunk at a time: on the first count
    # a scrape can come between the two)
    text = wait_for(lambda: (lambda t: t if "hub_consents_active{" in t
                             and "hub_handovers_overdue{" in t else None)(
        scrape(port)), 90, "the consent and handover gauges")
    assert re.search(r'hub_consents_active\{purpose="fruehe_hilfen"\} \d', text)
    assert re.search(r'hub_handovers_open\{municipality="selm"\} \d', text)
    assert re.search(r'hub_handovers_overdue\{municipality="selm"\} \d', text)
    # the lag's series are those of the partitions the worker holds: after a rebalance
    # (an earlier test's second worker) they are back once measured again
    lag = r'hub_consumer_lag\{partition="\d",topic="agency.jugendamt-selm.outbox"\} \d'
    wait_for(lambda: re.search(lag, scrape(port)), 30, "the consumer lag of the outbox")
