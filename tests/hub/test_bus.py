"""The router's dispatch: every kind of input has one handler, the handlers reach neither
back up into the bus nor into the runtime, and the topic tests of hub.core.topics agree
with the agency directory and the topic plan."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hub.agencies import load_agencies
from hub.core import topics
from hub.routing.bus import HANDLERS
from hub.routing.messages import (
    AgencyEvent,
    ConsentEvent,
    Erasure,
    ForwardedConsent,
    LinkageDecision,
    Tick,
)
from hub.topics import plan_topics

REPO = Path(__file__).resolve().parents[2]
HANDLER_MODULES = sorted((REPO / "hub/routing/handlers").glob("*.py"))
ABOVE = ("hub.routing.bus", "hub.routing.runtime", "hub.routing.agent", "hub.routing.handlers")


def test_every_kind_of_input_has_one_handler():
    assert set(HANDLERS) == {AgencyEvent, ConsentEvent, Tick, Erasure, LinkageDecision,
                             ForwardedConsent}
    assert len(set(HANDLERS.values())) == len(HANDLERS)


@pytest.mark.parametrize("path", HANDLER_MODULES, ids=lambda p: p.name)
def test_a_handler_imports_nothing_above_it_and_no_other_handler(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not {m for m in imported if m.startswith(ABOVE)}


def test_the_topic_tests_agree_with_the_agencies_and_the_plan():
    agencies = load_agencies()
    for agency in agencies.exchanging():
        assert topics.is_outbox(agency.outbox) and not topics.is_inbox(agency.outbox)
        assert topics.is_inbox(agency.inbox) and not topics.is_outbox(agency.inbox)
        assert topics.outbox_owner(agency.outbox) == agency.id
        assert agencies.agency_of_outbox(agency.outbox) is agency
        assert topics.is_router_input(agency.outbox)
        assert not topics.is_router_input(agency.inbox)
    assert topics.outbox_owner(topics.AUDIT_TOPIC) is None
    names = {spec.name for spec in plan_topics(agencies)}
    for name in (topics.AUDIT_TOPIC, topics.CONSENT_TOPIC, topics.FACTS_TOPIC,
                 topics.DLQ_TOPIC, topics.TICK_TOPIC, topics.REQUESTS_TOPIC,
                 topics.LINKAGE_TOPIC, topics.LINKAGE_DECISIONS_TOPIC, topics.LINKED_TOPIC,
                 topics.LINKAGE_REVIEWS_TOPIC):
        assert name in names
    routed = {n for n in names if topics.is_router_partitioned(n)}
    assert routed == {topics.TICK_TOPIC, topics.REQUESTS_TOPIC, topics.LINKED_TOPIC,
                      topics.LINKAGE_DECISIONS_TOPIC} | {
        t for a in agencies.exchanging() for t in (a.outbox, a.inbox)}


def test_every_count_of_the_handlers_is_a_metric():
    """A count without a metric would crash the router's agent when the runtime records it."""
    import re

    from hub.metrics import ROUTER_COUNTERS

    counted = set()
    for path in (REPO / "hub" / "routing").rglob("*.py"):
        counted |= set(re.findall(r'counts\.add\("([a-z_]+)"', path.read_text()))
    assert counted and counted <= set(ROUTER_COUNTERS), counted - set(ROUTER_COUNTERS)
