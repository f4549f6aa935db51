"""The router and the analytics in workers of their own (`hub run --role router` and
`--role analytics`): the router routes and writes facts without aggregating them, the
analytics worker aggregates and publishes the cells in its own consumer group.

The session's worker is stopped for the test and started again afterwards, whatever
happened."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from hub.analytics.records import WEEKLY_ACTIVITY, cell_key, iso_week
from hub.kafka_io import admin_client
from tests.handover.flow import offer, subject_of
from tests.integration.test_handovers import latest, send
from tests.integration.test_worker_metrics import scrape
from tests.support.clock import hub_now
from tests.support.session import SESSION_WORKERS, Worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

LAG = re.compile(r'^hub_consumer_lag\{partition="\d+",topic="([^"]+)"\}', re.MULTILINE)


def lag_topics(w: Worker) -> set[str]:
    """The topics whose partitions the worker reads (its consumer lag gauge)."""
    return set(LAG.findall(scrape(w.metrics_port)))


def let_go(bootstrap: str, group: str) -> None:
    """Remove the stopped (static) members of ``group`` at once, instead of waiting for
    their session to expire before the next worker is given their partitions."""
    from kafka.admin import MemberToRemove

    with admin_client(bootstrap) as admin:
        found = admin.describe_groups([group]).get(group) or {}
        members = [MemberToRemove(group_instance_id=m.get("group_instance_id"),
                                  member_id=None if m.get("group_instance_id")
                                  else m.get("member_id"))
                   for m in found.get("members") or []]
        if members:
            admin.remove_group_members(group, members)


def test_a_router_and_an_analytics_worker_apart_publish_the_cells(worker, tmp_path):
    town, agency, category = "selm", "jugendamt-selm", f"Apart {uuid.uuid4().hex[:4]}"
    day = hub_now() - timedelta(days=3)
    week, _ = iso_week(day.date())
    key = cell_key(week, town, "kita", "offer.accepted", category)
    router = Worker(worker.env, tmp_path / "router.log", role="router")
    analytics = Worker(worker.env, tmp_path / "analytics.log", role="analytics")
    worker.stop()
    let_go(worker.env.bootstrap, "unna-hub")
    try:
        for w in (analytics, router):  # both start at once
            w.launch()
            SESSION_WORKERS.append(w)  # a failure's report shows their logs
        for w in (analytics, router):
            w.wait_ready()
        send(worker.env.bootstrap, *[offer(agency, subject_of(f"apart-{category}-{n}"), day,
                                           category, town) for n in range(5)])

        def published():
            value = latest(worker.env.bootstrap, WEEKLY_ACTIVITY).get(key)
            return value if value and value["subjects"] == 5 else None
        cell = wait_for(published, 120, "the weekly cell, published by the analytics worker")
        assert (cell["events"], cell["suppressed"]) == (5, False)

        def read_by_both():
            found = lag_topics(router), lag_topics(analytics)
            return found if f"agency.{agency}.outbox" in found[0] and found[1] else None
        routed, aggregated = wait_for(read_by_both, 60, "both workers' consumer lag")
        assert "hub.facts" not in routed  # the router does not aggregate
        # the analytics worker reads the facts (and Faust's own topic), none of the router's
        assert aggregated - {"unna-hub-analytics-__assignor-__leader"} == {"hub.facts"}
    finally:
        for w in (router, analytics):
            if w in SESSION_WORKERS:
                SESSION_WORKERS.remove(w)
            w.stop()
        let_go(worker.env.bootstrap, "unna-hub")
        worker.start()
