"""Every topic name of the hub, and the tests on a topic's name (pure, no imports).

How the topics are declared (partitions, retention) is in ``deploy/topics.yaml``, planned
by :mod:`hub.topics` and created by :mod:`hub.topic_admin`.
"""

from __future__ import annotations

AUDIT_TOPIC = "hub.audit"  # every routing decision (hub.audit)
CONSENT_TOPIC = "hub.consent"  # the consent ledger, compacted by subject and consent id
FACTS_TOPIC = "hub.facts"  # what the router tells the analytics (hub.analytics.facts)
DLQ_TOPIC = "hub.dlq"  # dead letters (hub.deadletter)
TICK_TOPIC = "hub.ticks"  # the router's clock ticks (hub.routing.agent sends them)
REQUESTS_TOPIC = "hub.requests"  # erasure requests (hub erase), read by the router
LINKAGE_TOPIC = "hub.linkage"  # the connectors' linkage encodings: only the workers read it
LINKAGE_DECISIONS_TOPIC = "hub.linkage.decisions"  # which child a pseudonym stands for
LINKAGE_REVIEWS_TOPIC = "hub.linkage.reviews"  # the trust office's decisions (hub linkage)
LINKED_TOPIC = "hub.linked"  # a linked pseudonym's events on their way to its child's router

AGENCY_PREFIX = "agency."
OUTBOX_SUFFIX = ".outbox"
INBOX_SUFFIX = ".inbox"


def outbox_topic(agency_id: str) -> str:
    """Where an agency publishes its events (the router reads it)."""
    return f"{AGENCY_PREFIX}{agency_id}{OUTBOX_SUFFIX}"


def inbox_topic(agency_id: str) -> str:
    """Where the router delivers an agency's events."""
    return f"{AGENCY_PREFIX}{agency_id}{INBOX_SUFFIX}"


def is_outbox(topic: str) -> bool:
    return topic.startswith(AGENCY_PREFIX) and topic.endswith(OUTBOX_SUFFIX)


def is_inbox(topic: str) -> bool:
    return topic.startswith(AGENCY_PREFIX) and topic.endswith(INBOX_SUFFIX)


def outbox_owner(topic: str) -> str | None:
    """The agency id of an outbox topic (None for any other topic)."""
    if is_outbox(topic):
        return topic[len(AGENCY_PREFIX):-len(OUTBOX_SUFFIX)]
    return None


ROUTER_TOPICS = (TICK_TOPIC, REQUESTS_TOPIC, LINKAGE_DECISIONS_TOPIC, LINKED_TOPIC)
"""The hub's own topics the router reads, beside the outboxes."""


def is_router_input(topic: str) -> bool:
    """A topic the router reads: every outbox, ``hub.ticks``, ``hub.requests``, the linkage
    decisions and ``hub.linked``."""
    return topic in ROUTER_TOPICS or is_outbox(topic)


def is_router_partitioned(topic: str) -> bool:
    """A topic partitioned like the router's state: the router's input
    (:func:`is_router_input`) and every inbox (read back by partition number to learn what
    was delivered)."""
    return is_router_input(topic) or is_inbox(topic)
