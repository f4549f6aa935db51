"""The routing decision for one event: pure, no Kafka.

``Router.decide`` runs the steps every event goes through:

1. the envelope's ``source`` must be the agency whose outbox it arrived on (else: dead
   letter);
2. consent events update the ledger and go to no inbox; purposes such as ``statistik`` and
   types routed to ``none`` go to no inbox either;
3. the routing rules (``deploy/routing.yaml``) name the candidate recipients;
4. each candidate is checked on its own: a known agency with an inbox, not delivered before
   (dedupe), and covered by consent. It becomes a delivery, a duplicate or a refusal with
   its reason: the human text, and its :class:`~hub.core.reasons.ReasonKind` for
   metrics and analytics. When the decision depends on something not known yet (no consent
   of the family names the recipient; the handover request not seen yet) the event is
   held, and decided again when the family's next event arrives or, with ``final``, when
   the hold window ends.

The decision itself (:class:`~hub.core.decisions.Decision`) is data shared with the audit
and the analytics, in :mod:`hub.core.decisions`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hub.agencies import AgencyDirectory
from hub.consent.ledger import ALLOWED, REFUSED, ConsentState, chain_partners, check
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType, Purpose
from hub.core.decisions import Decision, Delivery, ReasonKind, Refusal
from hub.core.reasons import NoteKind
from hub.errors import ConfigError
from hub.handover.machine import Deadlines
from hub.paths import DEPLOY_DIR
from hub.yamlfile import read_yaml

ROUTING_FILE = DEPLOY_DIR / "routing.yaml"
TARGETS = ("recipient", "requester", "chain_partners", "parties", "none")
CONSENT_TYPES = (EventType.CONSENT_GRANTED, EventType.CONSENT_REVOKED)


@dataclass(frozen=True)
class RoutingRules:
    routes: dict[EventType, str]
    no_inbox_purposes: frozenset[str]
    deadlines: dict[str, Deadlines] = field(default_factory=lambda: Deadlines.from_config(None))

    @classmethod
    def load(cls, path: Path = ROUTING_FILE) -> RoutingRules:
        raw = read_yaml(path, "routing table")
        routes, problems = {}, []
        for name, target in (raw.get("routes") or {}).items():
            try:
                etype = EventType(name)
            except ValueError:
                problems.append(f"unknown event type {name!r}")
                continue
            if target not in TARGETS:
                problems.append(f"{name}: unknown target {target!r} (one of {TARGETS})")
            routes[etype] = target
        raw_deadlines = raw.get("handover_deadlines") or {}
        for purpose, entry in raw_deadlines.items():
            if purpose != "default" and purpose not in {p.value for p in Purpose}:
                problems.append(f"handover_deadlines: unknown purpose {purpose!r}")
            for name, value in (entry or {}).items():
                if name not in ("answer_days", "completion_days"):
                    problems.append(f"handover_deadlines.{purpose}: unknown setting {name!r} "
                                    "(answer_days, completion_days)")
                elif not isinstance(value, int | float) or value <= 0:
                    problems.append(f"handover_deadlines.{purpose}.{name}: must be a "
                                    f"positive number of days, not {value!r}")
        if problems:
            raise ConfigError(f"{path}: " + "; ".join(problems))
        return cls(routes, frozenset(raw.get("no_inbox_purposes") or ()),
                   Deadlines.from_config(raw_deadlines))


@dataclass(frozen=True)
class RoutingContext:
    """What the router knows about the event's family when it decides."""

    now: datetime
    consents: Sequence[ConsentState] = ()
    requester: str | None = None  # of the handover the event belongs to, if known
    seen: Callable[[str, str], bool] = lambda recipient, event_id: False


class Router:
    def __init__(self, agencies: AgencyDirectory, rules: RoutingRules | None = None):
        self.agencies = agencies
        self.rules = rules or RoutingRules.load()

    def decide(self, envelope: Envelope, arrived_on: str | None, ctx: RoutingContext,
               final: bool = False) -> Decision:
        """``arrived_on`` is the outbox the event came from; None for the hub's own events
        (handover.stalled)."""
        decision = Decision()
        sender = self.agencies.agency_of_outbox(arrived_on) if arrived_on else None
        if arrived_on and (sender is None or sender.id != envelope.source):
            decision.rejected.append(
                f"source {envelope.source!r} arrived on {arrived_on}, which is not its outbox")
            return decision
        if arrived_on and envelope.type is EventType.HANDOVER_STALLED:
            decision.rejected.append("handover.stalled is sent by the hub only, not by agencies")
            return decision
        if envelope.type in CONSENT_TYPES:
            decision.route_nowhere(NoteKind.CONSENT_RECORDED,
                                   "consent: recorded in the consent ledger")
            return decision
        if envelope.purpose.value in self.rules.no_inbox_purposes:
            decision.route_nowhere(NoteKind.PURPOSE_NOT_ROUTED,
                                   f"purpose {envelope.purpose.value}: analytics only",
                                   {"purpose": envelope.purpose.value})
            return decision
        target = self.rules.routes.get(envelope.type, "none")
        if target == "none":
            decision.route_nowhere(NoteKind.TYPE_NOT_ROUTED,
                                   f"{envelope.type.value}: analytics only",
                                   {"type": envelope.type.value})
            return decision
        candidates = self._candidates(envelope, target, ctx, decision, final)
        if decision.hold or not candidates:
            return decision
        undecided = []
        for recipient in candidates:
            refusal = self._no_inbox(recipient)
            if refusal:
                decision.refusals.append(refusal)
                continue
            if ctx.seen(recipient, envelope.id):
                decision.duplicates.append(recipient)
                continue
            verdict = check(ctx.consents, envelope.purpose.value, recipient, envelope.time,
                            ctx.now)
            if verdict.status == ALLOWED:
                decision.deliveries.append(Delivery(recipient, self.agencies.get(recipient)
                                                    .inbox, verdict.consent_id))
            else:
                refusal = Refusal(recipient, verdict.kind, verdict.reason, verdict.consent_id,
                                  verdict.params)
                if verdict.status == REFUSED or final:
                    decision.refusals.append(refusal)
                else:
                    undecided.append(refusal)
        if undecided and not decision.deliveries and not decision.refusals:
            decision.wait(undecided[0].kind, undecided[0].reason, undecided[0].params)
        elif undecided:  # some recipients decided: the rest cannot wait for them alone
            decision.refusals += undecided
        return decision

    def _candidates(self, envelope: Envelope, target: str, ctx: RoutingContext,
                    decision: Decision, final: bool) -> list[str]:
        if target == "recipient":
            if not envelope.recipient:
                decision.refusals.append(Refusal(
                    None, ReasonKind.OTHER, f"{envelope.type.value} names no recipient",
                    params={"type": envelope.type.value}))
                return []
            return [envelope.recipient]
        if target == "requester":
            if ctx.requester:
                return [ctx.requester]
            handover = {"handover_id": str(envelope.correlation_id)}
            if final:
                decision.refusals.append(Refusal(
                    None, ReasonKind.HANDOVER_UNKNOWN,
                    f"handover {envelope.correlation_id} was never requested", params=handover))
            else:
                decision.wait(ReasonKind.HANDOVER_UNKNOWN,
                              f"handover {envelope.correlation_id} not requested yet", handover)
            return []
        if target == "parties":  # both agencies of a handover (the hub's stall notices)
            return list(dict.fromkeys(
                p for p in (getattr(envelope.payload, "requested_by", None),
                            envelope.recipient) if p))
        partners = chain_partners(ctx.consents, envelope.purpose.value, envelope.source)
        if not partners:
            reason = f"no consent of the family covers purpose {envelope.purpose.value}"
            params = {"purpose": envelope.purpose.value}
            if final:
                decision.refusals.append(Refusal(None, ReasonKind.NO_CONSENT, reason,
                                                 params=params))
            else:
                decision.wait(ReasonKind.NO_CONSENT, reason, params)
        return partners

    def _no_inbox(self, recipient: str) -> Refusal | None:
        agency = self.agencies.get(recipient)
        if agency is None:
            return Refusal(recipient, ReasonKind.UNKNOWN_RECIPIENT,
                           f"unknown recipient {recipient!r}",
                           params={"recipient": recipient})
        if not agency.exchanges_events:
            return Refusal(recipient, ReasonKind.NO_INBOX,
                           f"{recipient} has no inbox (kind {agency.kind})",
                           params={"recipient": recipient, "agency_kind": str(agency.kind)})
        return None
