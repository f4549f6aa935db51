"""The steps every handler shares to decide an event and carry the decision out (pure):
what the router knows of the family (:func:`context`), the decision carried out
(:func:`carry_out`: deliveries, audit records, the fact), an event held
(:func:`hold`) and the held events decided again (:func:`reconsider`).

One event costs the same however long its family's history is: the routing context is
built once per event (again only when the event changed the family's consents or made its
handover's requester known), the family's consents are decoded once per event, and held
events are decided again only when the event changed what they wait for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from hub.audit import audit_records
from hub.consent.ledger import ConsentState
from hub.contract.models import Envelope
from hub.core.decisions import Decision
from hub.core.reasons import ReasonKind
from hub.routing.messages import Incoming, Output
from hub.routing.outputs import audit_output, deliver, event_fact_output
from hub.routing.rules import RoutingContext
from hub.routing.services import Services
from hub.routing.state import RouterStores

HUB_SOURCE = "hub"
"""The ``source`` of the events the hub writes itself (handover.stalled, notices)."""


def context(envelope: Envelope, stores: RouterStores, services: Services,
            consents: Sequence[ConsentState] | None = None) -> RoutingContext:
    """What the router knows about ``envelope``'s family; ``consents``: the family's
    consents, when already decoded for this event."""
    now = services.clock.now()
    requester = None
    if envelope.type.value.startswith("handover.") and envelope.correlation_id:
        requester = stores.handovers.requester(envelope.correlation_id)
    if consents is None:
        consents = stores.consents.of(envelope.subject)
    delivered = stores.delivered
    return RoutingContext(now, consents, requester,
                          lambda recipient, event_id: delivered.has(recipient, event_id, now))


def carry_out(envelope: Envelope, raw: bytes, decision: Decision, stores: RouterStores,
              services: Services) -> list[Output]:
    """The deliveries of ``decision`` (``raw``: the encoded event), its audit records and,
    for an agency's event, its fact; counted."""
    now = services.clock.now()
    out = [deliver(services, stores.delivered, d.recipient, *named(envelope, raw, d, stores,
                                                                  services), now,
                   key=envelope.subject) for d in decision.deliveries]
    if decision.deliveries:
        stores.served.note(envelope.subject, decision.deliveries)
    counts = services.counts
    for refusal in decision.refusals:
        counts.add("refusals", reason=refusal.kind.value,
                   municipality=envelope.municipality.value, sender=envelope.source)
    for recipient in decision.duplicates:
        counts.add("duplicates", recipient=recipient)
    out += [audit_output(services, r) for r in audit_records(envelope, decision, now)]
    if envelope.source != HUB_SOURCE:
        out.append(event_fact_output(services, envelope, decision))
    return out


def named(envelope: Envelope, raw: bytes, delivery, stores: RouterStores,
          services: Services) -> tuple[Envelope, bytes]:
    """``envelope`` as its recipient knows the child: under the pseudonym of the recipient's
    own connector, else the one the consent was given under (a linked child; unchanged
    otherwise)."""
    name = stores.aliases.name_for(envelope.subject, delivery.recipient, delivery.consent_id)
    if name == envelope.subject:
        return envelope, raw
    renamed = envelope.model_copy(update={"subject": name})
    return renamed, services.codec.encode(renamed)


def undecided(decision: Decision, services: Services) -> Decision:
    """``decision`` with its refusals for want of consent put down to the trust office's
    missing decision about a possible match."""
    days = f"{services.review_window.total_seconds() / 86400:g}"
    decision.refusals = [
        replace(r, kind=ReasonKind.LINKAGE_UNDECIDED, params={"review_days": days},
                reason=f"a possible match the trust office did not decide within {days} days "
                "(HUB_LINKAGE_REVIEW_DAYS), and no consent of its own covers it")
        if r.kind is ReasonKind.NO_CONSENT else r for r in decision.refusals]
    return decision


def hold(envelope: Envelope, message: Incoming, stores: RouterStores,
         services: Services) -> None:
    """``envelope`` waits (in the held events) until it can be decided."""
    stores.held.hold(envelope, message, services.clock.now())


def reconsider(subject: str, stores: RouterStores, services: Services,
               skip_id: str | None = None, final_before: datetime | None = None,
               consents: Sequence[ConsentState] | None = None,
               undecided_match: bool = False) -> list[Output]:
    """Decide the subject's held events again with what is known now; finally (refused
    when still undecided) for those held before ``final_before``. ``consents``: the
    subject's consents, when already decoded. ``undecided_match``: the subject is a possible
    match the trust office did not decide; a final refusal for want of consent says so."""
    held = stores.held
    waiting = held.waiting(subject)
    if not waiting:
        return []
    if consents is None:
        consents = stores.consents.of(subject)
    still, out = [], []
    for entry in waiting:
        final = final_before is not None and \
            datetime.fromisoformat(entry["held_at"]) <= final_before
        if entry["id"] == skip_id and not final:
            still.append(entry)
            continue
        envelope = held.envelope(entry, services.codec.decode)
        decision = services.router.decide(envelope, entry["topic"],
                                          context(envelope, stores, services, consents),
                                          final=final)
        if decision.hold:
            held.decoded[entry["id"]] = envelope
            still.append(entry)
            continue
        held.decoded.pop(entry["id"], None)
        if final and undecided_match:
            decision = undecided(decision, services)
        out += carry_out(envelope, held.raw(entry), decision, stores, services)
    if len(still) != len(waiting):
        held.keep(subject, still)
    return out
