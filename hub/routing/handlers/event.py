"""An agency's event (any but a consent; pure): decided with what the router knows of the
family, held when that is not enough yet, delivered, refused or not routed, audited and
told to the analytics. A handover step also moves its handover on
(:mod:`hub.handover.tracker`); a request that makes a handover's requester known decides
the family's held answers again."""

from __future__ import annotations

from dataclasses import replace

from hub.audit import ANOMALY
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType
from hub.handover.machine import STEP_OF, Handover
from hub.handover.tracker import Tracked
from hub.routing.deciding import carry_out, context, hold, reconsider
from hub.routing.messages import AgencyEvent, Output
from hub.routing.outputs import audit, dead_letter, handover_fact_output
from hub.routing.services import Services
from hub.routing.state import RouterStores


def handle_agency_event(event: AgencyEvent, stores: RouterStores,
                        services: Services) -> list[Output]:
    envelope, message = event.envelope, event.message
    ctx = context(envelope, stores, services)
    decision = services.router.decide(envelope, message.topic, ctx)
    if decision.rejected:
        return [dead_letter(services, message, decision.rejected, "source_mismatch")]
    out: list[Output] = []
    learned = ctx
    if envelope.type.value in STEP_OF:
        tracked = stores.handovers.observe(envelope, message.partition, services.clock.now())
        out += tracked_outputs(envelope, tracked, services)
        if envelope.type is EventType.HANDOVER_REQUESTED and envelope.correlation_id:
            requester = stores.handovers.requester(envelope.correlation_id)
            if requester != ctx.requester:
                learned = replace(ctx, requester=requester)
    if learned is not ctx:  # it may change the decision
        decision = services.router.decide(envelope, message.topic, learned)
    if decision.hold:
        hold(envelope, message, stores, services)
    out += carry_out(envelope, message.value, decision, stores, services)
    if learned is not ctx:  # what held events of the family wait for may be known now
        out += reconsider(envelope.subject, stores, services, skip_id=envelope.id,
                          consents=learned.consents)
    return out


def tracked_outputs(envelope: Envelope, tracked: Tracked, services: Services
                    ) -> list[Output]:
    """What a handover step tells: an audited anomaly for a step that does not fit its
    handover, counted bounces and ping-pong, the handover's fact (and those it updated)."""
    now = services.clock.now()
    out = []
    for anomaly in tracked.anomalies:
        services.counts.add("handover_anomalies", step=envelope.type.value)
        out.append(audit(services, envelope, ANOMALY, now,
                         reason=f"handover {anomaly.handover_id}: {anomaly.reason}",
                         kind=anomaly.kind,
                         params={"handover_id": anomaly.handover_id, **anomaly.params}))
    h = tracked.handover
    if h is None:
        return out
    for x in tracked.bounces:
        services.counts.add("handover_bounces", **pair(x))
    for x in tracked.ping_pong:
        services.counts.add("handover_ping_pong", **pair(x))
    out.append(handover_fact_output(services, h))
    out.extend(handover_fact_output(services, x) for x in tracked.updated)
    return out


def pair(h: Handover) -> dict[str, str]:
    """The labels of a handover's two agencies."""
    return dict(municipality=h.municipality, requester=h.requester or "unknown",
                recipient=h.recipient or "unknown")
