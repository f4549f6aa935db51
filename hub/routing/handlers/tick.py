"""Time passed on a partition (pure): every event of it held longer than the hold window
is decided finally, and both agencies of every handover of it that missed a deadline get
the hub's ``handover.stalled`` notice (consent permitting, like any event)."""

from __future__ import annotations

from hub.handover.machine import Stall
from hub.routing.deciding import carry_out, context, hold, reconsider
from hub.routing.messages import Incoming, Output, Tick
from hub.routing.notices import stall_notice
from hub.routing.outputs import handover_fact_output
from hub.routing.services import Services
from hub.routing.state import RouterStores


def handle_tick(tick: Tick, stores: RouterStores, services: Services) -> list[Output]:
    now = services.clock.now()
    stores.delivered.prune(now)
    limit = now - services.hold_window
    out: list[Output] = []
    # only families with an event whose hold window is over: the others are decided
    # again when their next event arrives (nothing else can change their decision)
    for subject in stores.held.due(tick.partition, limit):
        # a possible match waits for the trust office, up to the review window
        pending = stores.identities.pending(subject)
        final = now - services.review_window if pending else limit
        out += reconsider(subject, stores, services, final_before=final,
                          undecided_match=pending)
    for stall in stores.handovers.due(tick.partition, now):
        out += stalled(stall, stores, services)
    return out


def stalled(stall: Stall, stores: RouterStores, services: Services) -> list[Output]:
    """``handover.stalled`` to both agencies of the handover (consent permitting)."""
    h = stall.handover
    envelope = stall_notice(stall)
    raw = services.codec.encode(envelope)
    # like any event: an agency without a covering consent yet is held for the hold
    # window (the family's consent export may still be on its way), then refused
    decision = services.router.decide(envelope, None, context(envelope, stores, services))
    if decision.hold:
        hold(envelope, Incoming(None, h.partition, -1, raw), stores, services)
    out = carry_out(envelope, raw, decision, stores, services)
    services.counts.add("handovers_stalled", municipality=h.municipality,
                        waiting_for=stall.waiting_for)
    out.append(handover_fact_output(services, stores.handovers.stalled(stall)))
    return out
