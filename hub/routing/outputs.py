"""The records the handlers write, made in one place each (pure, no Kafka): a delivery to
an inbox, an audit record, a fact for the analytics, a dead letter. Each is counted for the
metrics (:class:`~hub.routing.services.Counts`)."""

from __future__ import annotations

from datetime import datetime

from hub.analytics.facts import encode_fact, event_fact, fact_key, handover_fact
from hub.analytics.placement import fact_partition
from hub.audit import audit_record, encode_audit
from hub.contract.models import Envelope
from hub.core.decisions import Decision
from hub.core.reasons import AuditDecision, NoteKind, ReasonParams
from hub.core.topics import AUDIT_TOPIC, DLQ_TOPIC, FACTS_TOPIC
from hub.deadletter import relayed_dead_letter, worker_dead_letter
from hub.handover.machine import Handover
from hub.routing.delivered import DELIVERED_AT_HEADER, DeliveredSet
from hub.routing.messages import Incoming, Output
from hub.routing.services import Services

# what the dead letters agencies send through their outboxes are about, by stage
_RELAYED_REASONS = {"connector": "rejected_row", "deliver": "undecodable"}


def audit(services: Services, envelope: Envelope, decision: AuditDecision, now: datetime,
          recipient: str | None = None, reason: str = "", kind: NoteKind | None = None,
          params: ReasonParams | None = None, **fields) -> Output:
    """An audit record of ``envelope`` (``reason`` typed: ``kind``, ``params``; ``fields``
    replace its own), counted."""
    return audit_output(services, {**audit_record(envelope, decision, now, recipient, reason,
                                                  kind=kind, params=params), **fields})


def audit_output(services: Services, record: dict) -> Output:
    """``record`` to ``hub.audit`` (keyed by its subject), counted: every audit record of
    the router is written here."""
    services.counts.add("audit_records", decision=record["decision"])
    return Output(AUDIT_TOPIC, record["subject"].encode(), encode_audit(record),
                  type="audit")


def deliver(services: Services, delivered: DeliveredSet, recipient: str,
            envelope: Envelope, raw: bytes, now: datetime, key: str | None = None) -> Output:
    """``envelope`` (encoded: ``raw``) to ``recipient``'s inbox, remembered and counted;
    keyed by ``key`` (the child's pseudonym, whose partition the router reads back), by the
    envelope's subject when None."""
    delivered.add(recipient, envelope.id, now)
    services.counts.add("deliveries", recipient=recipient, type=envelope.type.value)
    return Output(services.agencies.get(recipient).inbox,
                  (key or envelope.subject).encode(), raw,
                  ((DELIVERED_AT_HEADER, now.isoformat().encode()),),
                  type=envelope.type.value)


def event_fact_output(services: Services, envelope: Envelope, decision: Decision) -> Output:
    """What the analytics learn of an agency's event and how it was decided."""
    fact = event_fact(envelope, decision, services.agencies)
    return Output(FACTS_TOPIC, fact_key(fact), encode_fact(fact), type="fact",
                  partition=fact_partition(fact))


def handover_fact_output(services: Services, h: Handover) -> Output:
    """What the analytics learn of a handover's current state."""
    fact = handover_fact(h, services.agencies)
    return Output(FACTS_TOPIC, fact_key(fact), encode_fact(fact), type="fact",
                  partition=fact_partition(fact))


def dead_letter(services: Services, message: Incoming, reasons: list[str],
                label: str | None = None) -> Output:
    """``message`` to the dead-letter topic with ``reasons`` (counted under ``label``;
    None: counted by the caller)."""
    if label is not None:
        services.counts.add("dead_letters", stage="router", reason=label)
    return Output(DLQ_TOPIC, message.topic.encode(), worker_dead_letter(
        "router", message.topic, message.partition, message.offset, message.value,
        reasons, at=services.clock.now(), key=message.key), type="dead_letter")


def relayed(services: Services, message: Incoming, stage: str) -> Output:
    """An agency's dead letter, sent through its outbox, moved to the dead-letter topic."""
    agency = services.agencies.agency_of_outbox(message.topic)
    sender = agency.id if agency else "unknown"
    services.counts.add("dead_letters", stage=stage,
                        reason=_RELAYED_REASONS.get(stage, "relayed"))
    return Output(DLQ_TOPIC, sender.encode(),
                  relayed_dead_letter(message.value, message.topic, sender),
                  type="dead_letter")
