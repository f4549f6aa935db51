"""The router's processing of one message, with its state, as plain Python (no Kafka).

:class:`RoutingEngine` keeps three mappings that the Faust agent backs with changelog
tables (plain dicts in tests and simulations): ``consents`` (subject -> consent id ->
state), ``held`` (subject -> events waiting), ``handovers`` (handover id -> the handover's
state), ``families`` (subject -> the window of recent handovers that bounces and
ping-pong are judged on; see :mod:`hub.handover.tracking`) and ``served`` (subject ->
consent id -> the agencies that received events of the child under that consent: they get
a ``consent.revoked`` notice when it is withdrawn). One event costs the same however
long its family's history is: the routing context is built once per event (again only when
the event changed the family's consents or made its handover's requester known), the
family's consents are decoded once per event, and held events are decided again only when
the event changed what they wait for.
What each recipient already has is a :class:`DeliveredSet`. ``process`` and ``expire``
return the records to send (inboxes, audit, consent ledger, analytics facts, dead letters);
the caller sends them before the source offset is committed. ``expire`` also sends the
hub's own ``handover.stalled`` notices when a handover's deadline has passed.

The engine imports no metrics: it counts what it decided (deliveries, refusals by reason
kind, duplicates, anomalies, bounces, stalls, dead letters) in :attr:`RoutingEngine.counts`,
and the runtime hands those counts to Prometheus once per batch
(:func:`hub.metrics.record_counts`).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hub.agencies import AgencyDirectory
from hub.analytics.facts import (
    FACTS_TOPIC,
    encode_fact,
    erasure_marker,
    event_fact,
    fact_key,
    handover_fact,
)
from hub.audit import (
    ANOMALY,
    AUDIT_TOPIC,
    DELIVERED,
    ERASED,
    audit_record,
    audit_records,
    encode_audit,
)
from hub.clock import Clock
from hub.consent.ledger import ConsentState, ledger_key, merge
from hub.contract.codec import get_codec
from hub.contract.models import ConsentRevoked, Envelope, HandoverStalled, SubjectErased
from hub.contract.vocabulary import EventType, LifePhase, Municipality
from hub.deadletter import (
    DLQ_TOPIC,
    relayed_dead_letter,
    relayed_stage,
    worker_dead_letter,
)
from hub.errors import DecodeError
from hub.handover.tracker import STEP_OF, Handover, Stall
from hub.handover.tracking import HandoverTracker, Tracked
from hub.routing.delivered import DELIVERED_AT_HEADER, DeliveredSet
from hub.routing.erasure import decode_request, erasure_params, erasure_summary, held_erased
from hub.routing.reasons import AuditDecision, NoteKind, ReasonParams
from hub.routing.rules import CONSENT_TYPES, Decision, Router, RoutingContext

CONSENT_TOPIC = "hub.consent"
HUB_SOURCE = "hub"
"""The ``source`` of the events the hub writes itself (handover.stalled)."""
# what the dead letters agencies send through their outboxes are about, by stage
_RELAYED_REASONS = {"connector": "rejected_row", "deliver": "undecodable"}
STALL_NAMESPACE = uuid.UUID("5d0c7a52-3f0e-5b8e-9a43-7374616c6c21")
NOTICE_NAMESPACE = uuid.UUID("9e1b6f0c-2d4a-5c7e-8f3b-6e6f74696365")
REVOCATION_NOTICE = "revocation notice: the consent was withdrawn"
ERASURE_NOTICE = "erasure notice: the child's data was erased on request"
HUB_ONLY_TYPES = frozenset({EventType.SUBJECT_ERASED})
"""Event types only the hub writes: from an agency's outbox they are dead-lettered."""
LIFE_PHASE_OF_PURPOSE = {"fruehe_hilfen": LifePhase.RUND_UM_GEBURT,
                         "uebergang_kita_schule": LifePhase.KITA,
                         "uebergang_schule_beruf": LifePhase.UEBERGANG_BERUF}
"""An erasure notice's life phase when no event of the child is left to take it from."""
HELD_DECODED_MAX = 50_000
"""Held events kept decoded at most (a cache: the held table has them all)."""


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes
    value: bytes | None  # None: a tombstone (compacted topics)
    headers: tuple[tuple[str, bytes], ...] = ()
    type: str = ""
    """What the record is, for metrics: the event type, or audit, fact, dead_letter."""
    partition: int | None = None
    """None: the producer's partitioner (by key) chooses."""


@dataclass(frozen=True)
class Incoming:
    topic: str | None  # None for the hub's own events (stall notices)
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: object = ()  # Kafka headers: pairs or a mapping


class RoutingEngine:
    def __init__(self, agencies: AgencyDirectory, router: Router, clock: Clock,
                 hold_window: timedelta, delivered: DeliveredSet,
                 consents: MutableMapping, held: MutableMapping, handovers: MutableMapping,
                 families: MutableMapping | None = None, served: MutableMapping | None = None):
        self.agencies = agencies
        self.router = router
        self.clock = clock
        self.hold_window = hold_window
        self.delivered = delivered
        self.consents = consents
        self.held = held
        self.served = {} if served is None else served
        self.tracker = HandoverTracker(handovers, {} if families is None else families,
                                       router.rules.deadlines, hold_window)
        self.codec = get_codec()
        self.counts: Counter = Counter()
        """(metric, ((label, value), ...)) -> how often, since :meth:`take_counts`."""
        self._held_envelopes: dict[str, Envelope] = {}
        """Held events decoded (event id -> envelope), while they are held."""

    # ------------------------------------------------------------------ events
    def process(self, message: Incoming) -> list[Output]:
        stage = relayed_stage(message.headers)
        if stage is not None:  # an agency's dead letter, sent through its outbox
            return [self._relay_dead_letter(message, stage)]
        out: list[Output] = []
        try:
            envelope = self.codec.decode(message.value)
        except DecodeError as exc:
            self._count("events_consumed", topic=message.topic, type="undecodable")
            return [self.dead_letter(message, [exc.reason], "undecodable")]
        self._count("events_consumed", topic=message.topic, type=envelope.type.value)
        if envelope.type in HUB_ONLY_TYPES:
            return [self.dead_letter(message, [
                f"{envelope.type.value} is sent by the hub only, never by an agency"],
                "hub_only_type")]
        ctx = self.context(envelope)
        decision = self.router.decide(envelope, message.topic, ctx)
        if decision.rejected:
            return [self.dead_letter(message, decision.rejected, "source_mismatch")]
        learned = self._learn(envelope, message, out, ctx)
        if learned is not ctx:  # it may change the decision
            decision = self.router.decide(envelope, message.topic, learned)
        if decision.hold:
            self._hold(envelope, message)
        out += self._apply(envelope, message.value, decision)
        if learned is not ctx:  # what held events of the family wait for may be known now
            out += self._reconsider(envelope.subject, skip_id=envelope.id,
                                    consents=learned.consents)
        return out

    def expire(self, partition: int) -> list[Output]:
        """Decide finally every event of ``partition`` held longer than the hold window, and
        notify both agencies of every handover of ``partition`` that missed a deadline."""
        now = self.clock.now()
        self.delivered.prune(now)
        limit = now - self.hold_window
        out: list[Output] = []
        # only families with an event whose hold window is over: the others are decided
        # again when their next event arrives (nothing else can change their decision)
        subjects = [s for s, entries in list(self.held.items())
                    if any(e["partition"] == partition
                           and datetime.fromisoformat(e["held_at"]) <= limit
                           for e in entries or ())]
        for subject in subjects:
            out += self._reconsider(subject, final_before=limit)
        for stall in self.tracker.due(partition, now):
            out += self._stall(stall)
        return out

    def erase(self, message: Incoming, inbox: Sequence[tuple[str, bytes]]) -> list[Output]:
        """Carry out an erasure request (``hub erase``, on ``hub.requests``): forget the
        child in every table (tombstones in their changelogs and in the consent ledger),
        drop its held events (audited ``erased``), tell the analytics to take the pseudonym
        out of its facts (:func:`~hub.analytics.facts.erasure_marker`), and send a
        ``subject.erased`` notice to every agency that received an event of the child.

        ``inbox``: (recipient, record value) of every record of the child's inbox
        partition keyed by its pseudonym, read by the runtime before: which agencies
        received what (their delivered entries are forgotten too)."""
        request = self._erasure_request(message)
        if isinstance(request, Output):
            return [request]
        subject, now, out = request.subject, self.clock.now(), []
        received = self._forget_received(subject, inbox)
        consents = self._consents(subject)
        out += [Output(CONSENT_TOPIC, ledger_key(subject, state.consent_id), None,
                       type="tombstone") for state in consents]
        served = self.served.get(subject) or {}
        held = self._drop_held(subject, request.reference, now, out)
        for table in (self.consents, self.served, self.held):
            if subject in table:
                del table[subject]
        handovers = self.tracker.forget_subject(subject, message.partition)
        recipients = [r for r in dict.fromkeys([
            *received, *(a for agencies in served.values() for a in agencies)])
            if r != HUB_SOURCE and self.agencies.get(r)]
        known = [*received.values(), *held]
        for recipient in recipients:
            notice = self._erasure_envelope(request, recipient, received.get(recipient),
                                            known, handovers, consents)
            if self.delivered.has(recipient, notice.id, now):
                continue  # the request read again: told already
            out.append(self._deliver(recipient, notice, self.codec.encode(notice), now))
            out.append(self._audit(notice, DELIVERED, now, recipient,
                                   f"{ERASURE_NOTICE} (reference {request.reference})",
                                   NoteKind.ERASURE_NOTICE, {"reference": request.reference}))
        key, value = erasure_marker(request.id, subject, secrets.token_hex(16))
        out.append(Output(FACTS_TOPIC, key, value, type="fact"))
        summary = erasure_summary(request.reference, len(consents), len(held),
                                  len(handovers), recipients)
        erased = self._erasure_envelope(request, None, None, known, handovers, consents)
        out.append(self._audit(erased, ERASED, now, reason=summary, kind=NoteKind.ERASURE,
                               params=erasure_params(request.reference, len(consents), len(held),
                                                     len(handovers), recipients), **{
            "event_id": request.id, "requested_by": request.requested_by,
            "event_time": request.requested_at.isoformat()}))
        self._count("erasures", outcome="erased")
        return out

    def _erasure_request(self, message: Incoming):
        """The request in ``message``, or the dead letter that says why it is none."""
        try:
            request = decode_request(message.value)
        except ValueError as exc:
            reason = f"not an erasure request: {exc}"
        else:
            if message.key is None or message.key == request.key():
                return request
            reason = ("erasure request keyed by another pseudonym than its subject: it "
                      "arrived on a partition that may not hold the child's state")
        self._count("erasures", outcome="invalid")
        return self.dead_letter(message, [reason], "invalid_request")

    def _forget_received(self, subject: str, inbox: Sequence[tuple[str, bytes]]
                         ) -> dict[str, Envelope]:
        """Forget that the agencies have the child's events (found in ``inbox``); returns
        recipient -> the latest event it received. Erasure notices stay remembered, so
        that a request read again sends none twice."""
        received: dict[str, Envelope] = {}
        for recipient, raw in inbox:
            try:
                envelope = self.codec.decode(raw)
            except DecodeError:
                continue
            if envelope.subject != subject or envelope.type is EventType.SUBJECT_ERASED:
                continue
            self.delivered.remove(recipient, envelope.id)
            if recipient not in received or received[recipient].time <= envelope.time:
                received[recipient] = envelope
        return received

    def _drop_held(self, subject: str, reference: str, now: datetime,
                   out: list[Output]) -> list[Envelope]:
        """The child's held events, each audited ``erased`` (never delivered)."""
        held = []
        for entry in self.held.get(subject) or ():
            envelope = self._held_envelopes.pop(entry["id"], None) or \
                self.codec.decode(base64.b64decode(entry["value"]))
            held.append(envelope)
            out.append(self._audit(envelope, ERASED, now, reason=held_erased(reference),
                                   kind=NoteKind.HELD_ERASED, params={"reference": reference}))
        return held

    def _audit(self, envelope: Envelope, decision: AuditDecision, now: datetime,
               recipient: str | None = None, reason: str = "",
               kind: NoteKind | None = None, params: ReasonParams | None = None,
               **fields) -> Output:
        """An audit record of ``envelope`` (``reason`` typed: ``kind``, ``params``;
        ``fields`` replace its own), counted."""
        return self._audit_output({**audit_record(envelope, decision, now, recipient, reason,
                                                  kind=kind, params=params), **fields})

    def _audit_output(self, record: dict) -> Output:
        """``record`` to ``hub.audit`` (keyed by its subject), counted."""
        self._count("audit_records", decision=record["decision"])
        return Output(AUDIT_TOPIC, record["subject"].encode(), encode_audit(record),
                      type="audit")

    def _erasure_envelope(self, request, recipient: str | None, last: Envelope | None,
                          known: list[Envelope], handovers: list[Handover],
                          consents: list[ConsentState]) -> Envelope:
        """A ``subject.erased`` envelope: to ``recipient`` (a notice), or for the audit
        (None). It carries the pseudonym and the reference; the other fields, which the
        contract requires, are those of the last event the agency received of the child
        (else of any event, handover or consent of the child left)."""
        template = last or (known[-1] if known else None)
        if template is not None:
            fields = dict(key_id=template.key_id, municipality=template.municipality,
                          life_phase=template.life_phase, purpose=template.purpose)
        elif handovers:
            h = handovers[-1]
            fields = dict(key_id=h.key_id or "unknown", municipality=h.municipality,
                          life_phase=h.life_phase or LifePhase.KITA, purpose=h.purpose)
        else:
            purpose = consents[-1].purpose if consents else "fruehe_hilfen"
            agency = self.agencies.get(recipient) if recipient else None
            town = getattr(agency, "municipality", None)
            town = town if town in {m.value for m in Municipality} else "unna"
            fields = dict(key_id="unknown", municipality=town,
                          life_phase=LIFE_PHASE_OF_PURPOSE.get(purpose, LifePhase.KITA),
                          purpose=purpose)
        name = recipient or "all"
        return Envelope(
            id=str(uuid.uuid5(NOTICE_NAMESPACE, f"{request.subject}|{request.id}|{name}|"
                                                "erased")),
            type=EventType.SUBJECT_ERASED, source=HUB_SOURCE, time=self.clock.now(),
            subject=request.subject, recipient=recipient,
            payload=SubjectErased(reference=request.reference), **fields)

    def active_consents(self, families: Iterable[Mapping | None] | None = None
                        ) -> dict[str, int]:
        """purpose -> consents in force now (valid today, not withdrawn), over ``families``
        (values of the consents mapping; all of them when None)."""
        now = self.clock.now()
        counts: dict[str, int] = {}
        for states in list(self.consents.values()) if families is None else families:
            for raw in (states or {}).values():
                state = ConsentState.from_json(raw)
                if state.active_at(now):
                    counts[state.purpose] = counts.get(state.purpose, 0) + 1
        return counts

    def take_counts(self) -> Counter:
        """What was counted since the last call (and start counting afresh)."""
        counts, self.counts = self.counts, Counter()
        return counts

    def _count(self, metric: str, **labels: str) -> None:
        self.counts[(metric, tuple(labels.items()))] += 1

    def held_count(self) -> int:
        return sum(len(entries) for entries in self.held.values())

    # --------------------------------------------------------------- internals
    def context(self, envelope: Envelope, consents: Sequence[ConsentState] | None = None
                ) -> RoutingContext:
        """What the router knows about ``envelope``'s family; ``consents``: the family's
        consents, when already decoded for this event."""
        now = self.clock.now()
        requester = None
        if envelope.type.value.startswith("handover.") and envelope.correlation_id:
            requester = self.tracker.requester(envelope.correlation_id)
        if consents is None:
            consents = self._consents(envelope.subject)
        return RoutingContext(now, consents, requester,
                              lambda recipient, event_id: self.delivered.has(recipient,
                                                                             event_id, now))

    def _consents(self, subject: str) -> list[ConsentState]:
        return [ConsentState.from_json(v) for v in (self.consents.get(subject) or {}).values()]

    def _learn(self, envelope: Envelope, message: Incoming, out: list[Output],
               ctx: RoutingContext) -> RoutingContext:
        """Record what an event tells about its family (consents, handovers); returns
        ``ctx`` when that changed nothing the routing depends on, else the new context."""
        raw = message.value
        if envelope.type in CONSENT_TYPES:
            states = {s.consent_id: s for s in ctx.consents}
            new = ConsentState.from_envelope(envelope)
            merged = merge(states, new)
            out.append(Output(CONSENT_TOPIC, ledger_key(envelope.subject, new.consent_id), raw,
                              type=envelope.type.value))
            if merged == states:  # a re-import changes nothing: no changelog write
                return ctx
            stored = dict(self.consents.get(envelope.subject) or {})
            stored[new.consent_id] = new.to_json()  # the others are stored already
            self.consents[envelope.subject] = stored
            before = states.get(new.consent_id)
            if merged[new.consent_id] is new and new.revoked_at is not None and \
                    (before is None or before.revoked_at is None):
                out += self._revocation_notices(envelope, new)
            return replace(ctx, consents=list(merged.values()))
        if envelope.type.value in STEP_OF:
            self._track(envelope, self.tracker.observe(envelope, message.partition,
                                                       self.clock.now()), out)
            if envelope.type is EventType.HANDOVER_REQUESTED and envelope.correlation_id:
                requester = self.tracker.requester(envelope.correlation_id)
                if requester != ctx.requester:
                    return replace(ctx, requester=requester)
        return ctx

    def _track(self, envelope: Envelope, tracked: Tracked, out: list[Output]) -> None:
        now = self.clock.now()
        for anomaly in tracked.anomalies:
            self._count("handover_anomalies", step=envelope.type.value)
            out.append(self._audit(envelope, ANOMALY, now, reason=f"handover "
                                   f"{anomaly.handover_id}: {anomaly.reason}",
                                   kind=anomaly.kind, params={
                                       "handover_id": anomaly.handover_id, **anomaly.params}))
        h = tracked.handover
        if h is None:
            return
        def pair(x: Handover) -> dict[str, str]:
            return dict(municipality=x.municipality, requester=x.requester or "unknown",
                        recipient=x.recipient or "unknown")
        for x in tracked.bounces:
            self._count("handover_bounces", **pair(x))
        for x in tracked.ping_pong:
            self._count("handover_ping_pong", **pair(x))
        out.append(self._handover_fact(h))
        out.extend(self._handover_fact(x) for x in tracked.updated)

    def _stall(self, stall: Stall) -> list[Output]:
        """``handover.stalled`` to both agencies of the handover (consent permitting)."""
        h = stall.handover
        envelope = Envelope(
            id=str(uuid.uuid5(STALL_NAMESPACE, f"{h.handover_id}|{stall.waiting_for}")),
            type=EventType.HANDOVER_STALLED, source=HUB_SOURCE, time=stall.deadline,
            subject=h.subject, key_id=h.key_id or "unknown", municipality=h.municipality,
            life_phase=h.life_phase or "kita", purpose=h.purpose, recipient=h.recipient,
            correlation_id=h.handover_id,
            payload=HandoverStalled(handover_id=h.handover_id, requested_by=h.requester,
                                    waiting_for=stall.waiting_for, deadline=stall.deadline))
        raw = self.codec.encode(envelope)
        # like any event: an agency without a covering consent yet is held for the hold
        # window (the family's consent export may still be on its way), then refused
        decision = self.router.decide(envelope, None, self.context(envelope))
        if decision.hold:
            self._hold(envelope, Incoming(None, h.partition, -1, raw))
        out = self._apply(envelope, raw, decision)
        self._count("handovers_stalled", municipality=h.municipality,
                                 waiting_for=stall.waiting_for)
        out.append(self._handover_fact(self.tracker.stalled(stall)))
        return out

    def _revocation_notices(self, revocation: Envelope, state: ConsentState) -> list[Output]:
        """A ``consent.revoked`` notice to each agency that received events of the child
        under the withdrawn consent (but the one that withdrew it): pseudonym, consent id,
        purpose and when the withdrawal took effect, so that its own system stops using
        them. Delivered whatever the consents say (it is about the consent itself), once,
        and audited."""
        now = self.clock.now()
        served = (self.served.get(revocation.subject) or {}).get(state.consent_id) or []
        out = []
        for recipient in served:
            if recipient == revocation.source or self.agencies.get(recipient) is None:
                continue
            notice = Envelope(
                id=str(uuid.uuid5(NOTICE_NAMESPACE, f"{revocation.subject}|"
                                  f"{state.consent_id}|{recipient}|revoked")),
                type=EventType.CONSENT_REVOKED, source=HUB_SOURCE, time=state.revoked_at,
                # the withdrawal's day as the agency gave it: a date, not a time of day
                time_precision=revocation.time_precision
                if state.revoked_at == revocation.time else "instant",
                subject=revocation.subject, key_id=revocation.key_id,
                municipality=revocation.municipality, life_phase=revocation.life_phase,
                purpose=revocation.purpose, recipient=recipient,
                payload=ConsentRevoked(consent_id=state.consent_id, recipients=[recipient],
                                       valid_from=state.valid_from, valid_to=state.valid_to,
                                       recorded_at=state.recorded_at,
                                       effective_at=state.revoked_at))
            if self.delivered.has(recipient, notice.id, now):
                continue
            out.append(self._deliver(recipient, notice, self.codec.encode(notice), now))
            out.append(self._audit(notice, DELIVERED, now, recipient, REVOCATION_NOTICE,
                                   NoteKind.REVOCATION_NOTICE, consent_id=state.consent_id))
        return out

    def _deliver(self, recipient: str, envelope: Envelope, raw: bytes, now) -> Output:
        """``envelope`` (encoded: ``raw``) to ``recipient``'s inbox, remembered and counted."""
        self.delivered.add(recipient, envelope.id, now)
        self._count("deliveries", recipient=recipient, type=envelope.type.value)
        return Output(self.agencies.get(recipient).inbox, envelope.subject.encode(), raw,
                      ((DELIVERED_AT_HEADER, now.isoformat().encode()),),
                      type=envelope.type.value)

    def _note_served(self, subject: str, deliveries) -> None:
        """Remember which agencies received events of ``subject`` under which consent
        (written only when an agency is new for a consent)."""
        served = self.served.get(subject) or {}
        new = [(d.consent_id, d.recipient) for d in deliveries
               if d.recipient not in served.get(d.consent_id, ())]
        if not new:
            return
        changed = {consent_id: list(agencies) for consent_id, agencies in served.items()}
        for consent_id, recipient in new:
            if recipient not in changed.setdefault(consent_id, []):
                changed[consent_id].append(recipient)
        self.served[subject] = changed

    def _handover_fact(self, h: Handover) -> Output:
        fact = handover_fact(h, self.agencies)
        return Output(FACTS_TOPIC, fact_key(fact), encode_fact(fact), type="fact")

    def _apply(self, envelope: Envelope, raw: bytes, decision: Decision) -> list[Output]:
        now = self.clock.now()
        out = []
        for delivery in decision.deliveries:
            out.append(self._deliver(delivery.recipient, envelope, raw, now))
        if decision.deliveries:
            self._note_served(envelope.subject, decision.deliveries)
        for refusal in decision.refusals:
            self._count("refusals", reason=refusal.kind.value,
                        municipality=envelope.municipality.value, sender=envelope.source)
        for recipient in decision.duplicates:
            self._count("duplicates", recipient=recipient)
        out += [self._audit_output(r) for r in audit_records(envelope, decision, now)]
        if envelope.source != HUB_SOURCE:
            fact = event_fact(envelope, decision, self.agencies)
            out.append(Output(FACTS_TOPIC, fact_key(fact), encode_fact(fact), type="fact"))
        return out

    def _hold(self, envelope: Envelope, message: Incoming) -> None:
        waiting = list(self.held.get(envelope.subject) or [])
        if any(entry["id"] == envelope.id for entry in waiting):
            return
        waiting.append({"id": envelope.id, "topic": message.topic,
                        "partition": message.partition,
                        "held_at": self.clock.now().isoformat(),
                        "value": base64.b64encode(message.value).decode("ascii")})
        self.held[envelope.subject] = waiting
        if len(self._held_envelopes) >= HELD_DECODED_MAX:  # e.g. partitions moved away
            self._held_envelopes.clear()
        self._held_envelopes[envelope.id] = envelope

    def _reconsider(self, subject: str, skip_id: str | None = None,
                    final_before: datetime | None = None,
                    consents: Sequence[ConsentState] | None = None) -> list[Output]:
        """Decide the subject's held events again with what is known now; finally (refused
        when still undecided) for those held before ``final_before``. ``consents``: the
        subject's consents, when already decoded."""
        waiting = self.held.get(subject)
        if not waiting:
            return []
        if consents is None:
            consents = self._consents(subject)
        still, out = [], []
        for entry in waiting:
            final = final_before is not None and \
                datetime.fromisoformat(entry["held_at"]) <= final_before
            if entry["id"] == skip_id and not final:
                still.append(entry)
                continue
            raw = base64.b64decode(entry["value"])
            envelope = self._held_envelopes.get(entry["id"]) or self.codec.decode(raw)
            decision = self.router.decide(envelope, entry["topic"],
                                          self.context(envelope, consents), final=final)
            if decision.hold:
                self._held_envelopes[entry["id"]] = envelope
                still.append(entry)
                continue
            self._held_envelopes.pop(entry["id"], None)
            out += self._apply(envelope, raw, decision)
        if len(still) != len(waiting):
            self.held[subject] = still
        return out

    def _relay_dead_letter(self, message: Incoming, stage: str) -> Output:
        agency = self.agencies.agency_of_outbox(message.topic)
        sender = agency.id if agency else "unknown"
        self._count("dead_letters", stage=stage, reason=_RELAYED_REASONS.get(stage, "relayed"))
        return Output(DLQ_TOPIC, sender.encode(),
                      relayed_dead_letter(message.value, message.topic, sender),
                      type="dead_letter")

    def dead_letter(self, message: Incoming, reasons: list[str], label: str | None = None
                    ) -> Output:
        """``message`` to the dead-letter topic with ``reasons`` (counted under ``label``;
        None: counted by the caller)."""
        if label is not None:
            self._count("dead_letters", stage="router", reason=label)
        return Output(DLQ_TOPIC, message.topic.encode(), worker_dead_letter(
            "router", message.topic, message.partition, message.offset, message.value,
            reasons, at=self.clock.now(), key=message.key), type="dead_letter")
