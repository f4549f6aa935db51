"""The router's dispatch (pure, no Kafka): each input goes to the handler of its kind
(:data:`HANDLERS`), with the stores and the services, and its outputs come back to the
runtime (:class:`~hub.routing.runtime.RouterRuntime`), which sends them before the source
offsets are committed.

An outbox record is read first (:func:`~hub.routing.handlers.outbox.read_outbox`): a
consent, any other agency event, or a dead letter. A new kind of input (e.g. a linkage
decision) is a message type in :mod:`hub.routing.messages`, a handler module in
:mod:`hub.routing.handlers` and one entry of :data:`HANDLERS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, MutableMapping
from datetime import timedelta

from hub.agencies import AgencyDirectory
from hub.clock import Clock
from hub.core.topics import LINKAGE_DECISIONS_TOPIC, LINKED_TOPIC
from hub.routing.delivered import DeliveredSet
from hub.routing.handlers.consent import handle_consent
from hub.routing.handlers.erasure import handle_erasure
from hub.routing.handlers.event import handle_agency_event
from hub.routing.handlers.linkage import (
    forward,
    handle_forwarded_consent,
    handle_linkage_decision,
    read_decision,
    read_forwarded,
)
from hub.routing.handlers.outbox import read_outbox
from hub.routing.handlers.tick import handle_tick
from hub.routing.messages import (
    AgencyEvent,
    ConsentEvent,
    Erasure,
    ForwardedConsent,
    Incoming,
    LinkageDecision,
    Output,
    Tick,
)
from hub.routing.outputs import dead_letter
from hub.routing.rules import Router
from hub.routing.services import Services
from hub.routing.state import RouterStores

Input = Incoming | Tick | Erasure
"""What the runtime hands the bus: an outbox record, a tick, an erasure request."""

HANDLERS: dict[type, Callable[..., list[Output]]] = {
    AgencyEvent: handle_agency_event,
    ConsentEvent: handle_consent,
    Tick: handle_tick,
    Erasure: handle_erasure,
    LinkageDecision: handle_linkage_decision,
    ForwardedConsent: handle_forwarded_consent,
}
"""The handler of each kind of input (each called as ``handler(input, stores, services)``)."""


class RouterBus:
    """The stores and services of one router, and the dispatch of its inputs."""

    def __init__(self, stores: RouterStores, services: Services):
        self.stores = stores
        self.services = services

    def handle(self, message: Input) -> list[Output]:
        """The outputs of ``message``, by the handler of its kind."""
        if isinstance(message, Incoming):
            message = self.read(message)
            if isinstance(message, Output):  # a dead letter
                return [message]
        if isinstance(message, AgencyEvent | ConsentEvent):
            child = self.stores.identities.child_of(message.envelope.subject)
            if child is not None:  # a linked pseudonym: its child's partition decides
                return [forward(message, child, self.services)]
        return HANDLERS[type(message)](message, self.stores, self.services)

    def read(self, message: Incoming):
        """What a record of one of the router's topics is, for its handler."""
        if message.topic == LINKAGE_DECISIONS_TOPIC:
            return read_decision(message, self.services)
        if message.topic == LINKED_TOPIC:
            return read_forwarded(message, self.stores, self.services)
        return read_outbox(message, self.services)

    def dead_letter(self, message: Incoming, reasons: list[str], label: str | None = None
                    ) -> Output:
        """``message`` to the dead-letter topic with ``reasons`` (e.g. when its handler
        raised), counted under ``label``."""
        return dead_letter(self.services, message, reasons, label)

    def take_counts(self) -> Counter:
        """What the handlers counted since the last call (:class:`~hub.routing.services.Counts`)."""
        return self.services.counts.take()

    def held_count(self) -> int:
        return self.stores.held.count()


def new_bus(agencies: AgencyDirectory, router: Router, clock: Clock, hold_window: timedelta,
            delivered: DeliveredSet, consents: MutableMapping, held: MutableMapping,
            handovers: MutableMapping, families: MutableMapping | None = None,
            served: MutableMapping | None = None, identities: MutableMapping | None = None,
            aliases: MutableMapping | None = None,
            review_window: timedelta = timedelta(days=14)) -> RouterBus:
    """A router over these tables (the optional ones: new dicts when None)."""
    stores = RouterStores.over(delivered, consents, held, handovers, families, served,
                               identities, aliases, deadlines=router.rules.deadlines,
                               hold_window=hold_window)
    return RouterBus(stores, Services(agencies, router, clock, hold_window,
                                      review_window=review_window))
