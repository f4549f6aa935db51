"""The operators' and the trust office's views of the hub's own topics: the audit trail and
the consents of one family, the dead letters (list, replay), the linkage decisions; and
the erasure requests and linkage reviews they send, with the workers' answers (``hub
audit``, ``hub dlq``, ``hub erase``, ``hub linkage``)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import TopicPartition

from hub.audit import AUDIT_TOPIC, ERASED
from hub.consent.ledger import ConsentState, merge
from hub.contract.codec import get_codec
from hub.contract.vocabulary import EventType
from hub.core.topics import (
    CONSENT_TOPIC,
    LINKAGE_DECISIONS_TOPIC,
    LINKAGE_REVIEWS_TOPIC,
    REQUESTS_TOPIC,
)
from hub.deadletter import DLQ_TOPIC
from hub.errors import DecodeError, HubError
from hub.kafka_io import (
    Kafka,
    consumer,
    latest_values,
    missing_topic,
    producer,
    read_to_end,
)
from hub.linkage.records import LinkDecision, Outcome, Review
from hub.tail import Tail

CONSENT_EVENTS = (EventType.CONSENT_GRANTED, EventType.CONSENT_REVOKED)


def family_history(bootstrap: Kafka, subject: str | Iterable[str],
                   timeout: float = 3.0) -> list[dict]:
    """Every audit record of one subject (or of several: a child's linked pseudonyms),
    oldest first."""
    subjects = {subject} if isinstance(subject, str) else set(subject)
    records = [r.value for r in Tail(bootstrap, [AUDIT_TOPIC], from_beginning=True,
                                     timeout=timeout)
               if r.value and r.value.get("subject") in subjects]
    return sorted(records, key=lambda r: (r["time"], r["event_time"] or "",
                                          r["event_id"] or ""))


def child_pseudonyms(bootstrap: Kafka, subject: str) -> list[str]:
    """Every pseudonym of ``subject``'s child: the linkage stage's decisions link spellings
    of one child (``subject`` first, then the others in order; just ``subject`` when none
    is linked or the hub has no linkage decisions)."""
    try:
        decisions = linkage_decisions(bootstrap)
    except HubError:  # no such topic: a hub from before linkage
        return [subject]
    child_of = {p: d.child if d.outcome is Outcome.SAME else p for p, d in decisions.items()}
    child = child_of.get(subject, subject)
    linked = sorted(p for p, c in child_of.items() if c == child and p != subject)
    return [subject, *linked] + ([child] if child != subject and child not in linked else [])


def family_consents(bootstrap: Kafka, subject: str | Iterable[str]) -> list[ConsentState]:
    """The subject's consents as the consent ledger ``hub.consent`` keeps them (the consent
    events as published, keyed by pseudonym and consent id): the newest state of each
    consent id. Read up to the topic's end; a tombstone of the subject removes its consent
    id, an undecodable record is skipped."""
    codec = get_codec()
    subjects = {subject} if isinstance(subject, str) else set(subject)
    states: dict[str, ConsentState] = {}
    for record in read_to_end(bootstrap, CONSENT_TOPIC, "unna-hub-audit"):
        if record.value is None:  # a tombstone: subject|consent id
            of, _, consent_id = (record.key or b"").decode("utf-8", "replace").rpartition("|")
            if of in subjects:
                states.pop(consent_id, None)
            continue
        try:
            envelope = codec.decode(record.value)
        except DecodeError:
            continue
        if envelope.subject in subjects and envelope.type in CONSENT_EVENTS:
            states = merge(states, ConsentState.from_envelope(envelope))
    return sorted(states.values(), key=lambda s: (s.valid_from, s.consent_id))


def event_when(record: dict) -> str:
    """The event's time in a ``hub audit`` line (UTC, as the decision's): with the time of
    day for a point in time, the day alone for an event known only by its day
    (``event_time_precision`` ``date``) and, as ever, for a record without the field."""
    if record.get("event_time_precision") == "instant":
        return record["event_time"][:19]
    return f"{record['event_time'][:10]:<19}"


def format_history(records: Iterable[dict]) -> list[str]:
    lines = []
    for r in records:
        who = r["recipient"] or "-"
        consent = f" under consent {r['consent_id']}" if r["consent_id"] else ""
        reason = f": {r['reason']}" if r["reason"] else ""
        lines.append(f"{r['time'][:19]}  {event_when(r)}  {r['type']:<20} from "
                     f"{r['sender']:<26} {r['decision']:<10} {who}{consent}{reason}")
    return lines


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    record: dict

    @property
    def number(self) -> str:
        """How ``hub dlq`` names the letter: ``<partition>@<offset>`` of hub.dlq (an offset
        alone names one letter on each partition)."""
        return f"{self.partition}@{self.offset}"

    @property
    def replayable(self) -> bool:
        return bool(self.record.get("value_base64")) and self.record.get("stage") == "router"

    def describe(self) -> str:
        r = self.record
        where = (f"{r['file']} row {r['row']} ({r['agency']})" if r.get("stage") == "connector"
                 else f"{r.get('topic')}[{r.get('partition')}]@{r.get('offset')}")
        return (f"#{self.number}  {r.get('at', '')[:19]}  {r.get('stage'):<9} {where}: "
                + "; ".join(r.get("reasons", [])))


def dead_letters(bootstrap: Kafka, timeout: float = 3.0) -> list[DeadLetter]:
    return [DeadLetter(r.partition, r.offset, r.value) for r in Tail(bootstrap, [DLQ_TOPIC],
                                                        from_beginning=True, timeout=timeout)
            if r.value]


def replay(bootstrap: Kafka, letters: list[DeadLetter], producer) -> int:
    """Send the original bytes of router dead letters back to the topic they came from.
    They pass the router again, dedupe included: replaying twice delivers nothing twice."""
    sent = 0
    for letter in letters:
        if not letter.replayable:
            continue
        r = letter.record
        key = base64.b64decode(r["key_base64"]) if r.get("key_base64") else None
        producer.send(r["topic"], key=key, value=base64.b64decode(r["value_base64"])).get(30)
        sent += 1
    producer.flush()
    return sent


def request_erasure(bootstrap: Kafka, request, wait: float | None = 120.0,
                    progress=None) -> dict | None:
    """Send an erasure request (:class:`~hub.routing.erasure.ErasureRequest`) to
    ``hub.requests`` and wait up to ``wait`` seconds (None: not at all) for the router's
    audit record of it; returns that record, or None when it did not come in time (the
    request stays on the topic and is carried out when a worker reads it)."""
    def answer(record, _offset: int) -> dict | None:
        audit = _json_object(record.value)
        if audit and audit.get("event_id") == request.id and \
                audit.get("decision") == ERASED:
            return audit
        return None

    return _send_and_await(bootstrap, REQUESTS_TOPIC, request.key(), request.encode(),
                           [AUDIT_TOPIC], answer, wait, "unna-hub-erase", progress and (
                               lambda: progress("request sent to hub.requests; waiting "
                                                "for the router")))


def _send_and_await(bootstrap: Kafka, topic: str, key: bytes, value: bytes,
                    watch: list[str], answer, wait: float | None, client_id: str,
                    sent_note=None):
    """Send one record to ``topic`` and, unless ``wait`` is None, read what comes on the
    ``watch`` topics for up to ``wait`` seconds until ``answer(record, offset sent)`` is not
    None; returns that answer, or None."""
    reader = _at_end(bootstrap, watch, client_id) if wait is not None else None
    try:
        sender = producer(bootstrap, client_id)
        try:
            if not sender.partitions_for(topic):
                raise missing_topic(bootstrap, topic)
            sent = sender.send(topic, key=key, value=value).get(30)
            sender.flush()
        finally:
            sender.close()
        if sent_note:
            sent_note()
        if reader is None:
            return None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for records in reader.poll(timeout_ms=500).values():
                for record in records:
                    found = answer(record, sent.offset)
                    if found is not None:
                        return found
        return None
    finally:
        if reader is not None:
            reader.close()


def linkage_decisions(bootstrap: Kafka) -> dict[str, LinkDecision]:
    """The newest linkage decision per pseudonym (``hub.linkage.decisions`` read to its
    end; a tombstone removes the pseudonym, an unreadable record is skipped)."""
    decisions: dict[str, LinkDecision] = {}
    for raw in latest_values(bootstrap, LINKAGE_DECISIONS_TOPIC,
                             "unna-hub-linkage-view").values():
        try:
            decision = LinkDecision.from_bytes(raw)
        except (ValueError, KeyError, TypeError):
            continue
        decisions[decision.pseudonym] = decision
    return decisions


@dataclass(frozen=True)
class ReviewAnswer:
    """What became of a review: the stage's ``decision``, or the ``refusal`` it was
    dead-lettered with."""

    decision: LinkDecision | None = None
    refusal: str | None = None


def send_review(bootstrap: Kafka, review: Review, wait: float | None = 60.0,
                progress=None) -> ReviewAnswer | None:
    """Send the trust office's ``review`` to ``hub.linkage.reviews`` and wait up to
    ``wait`` seconds (None: not at all) for the linkage stage to carry it out: its decision
    about the pseudonym with the review's action and time, or the dead letter of the
    review; None when neither came in time (the review stays on the topic and is carried
    out when a worker reads it)."""
    return _send_and_await(
        bootstrap, LINKAGE_REVIEWS_TOPIC, review.key, review.to_bytes(),
        [LINKAGE_DECISIONS_TOPIC, DLQ_TOPIC],
        lambda record, offset: _review_answer(record, review, offset), wait,
        "unna-hub-linkage", progress and (lambda: progress(
            "review sent to hub.linkage.reviews; waiting for the linkage stage")))


def _review_answer(record, review: Review, offset: int) -> ReviewAnswer | None:
    if record.topic == DLQ_TOPIC:
        letter = _json_object(record.value)
        if letter and letter.get("topic") == LINKAGE_REVIEWS_TOPIC and \
                letter.get("offset") == offset:
            return ReviewAnswer(refusal="; ".join(letter.get("reasons") or []) or "refused")
        return None
    if record.value is None or record.key != review.pseudonym.encode():
        return None
    try:
        decision = LinkDecision.from_bytes(record.value)
    except (ValueError, KeyError, TypeError):
        return None
    if decision.review is review.action and decision.at == review.at:
        return ReviewAnswer(decision=decision)
    return None


def _at_end(bootstrap: Kafka, topics: list[str], client_id: str):
    """A consumer of every partition of ``topics``, at their ends: it reads what comes."""
    reader = consumer(bootstrap, group_id=None, enable_auto_commit=False,
                      client_id=client_id)
    tps = []
    for topic in topics:
        ids = reader.partitions_for_topic(topic)
        if not ids:
            reader.close()
            raise missing_topic(bootstrap, topic)
        tps += [TopicPartition(topic, p) for p in sorted(ids)]
    reader.assign(tps)
    for tp, end in reader.end_offsets(tps).items():
        reader.seek(tp, end)
    return reader


def _json_object(data: bytes | None) -> dict | None:
    try:
        value = json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
