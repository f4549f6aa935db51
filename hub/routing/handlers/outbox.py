"""A record of an agency's outbox, read (pure): an agency's dead letter is moved on, a
record that does not decode or that only the hub may send is dead-lettered, and the rest is
a consent (:class:`~hub.routing.messages.ConsentEvent`) or any other event
(:class:`~hub.routing.messages.AgencyEvent`) for its handler."""

from __future__ import annotations

from hub.contract.vocabulary import EventType
from hub.deadletter import relayed_stage
from hub.errors import DecodeError
from hub.routing.messages import AgencyEvent, ConsentEvent, Incoming, Output
from hub.routing.outputs import dead_letter, relayed
from hub.routing.rules import CONSENT_TYPES
from hub.routing.services import Services

HUB_ONLY_TYPES = frozenset({EventType.SUBJECT_ERASED})
"""Event types only the hub writes: from an agency's outbox they are dead-lettered."""


def read_outbox(message: Incoming, services: Services
                ) -> AgencyEvent | ConsentEvent | Output:
    """What ``message`` is: an event for a handler, or the dead letter that says why not."""
    stage = relayed_stage(message.headers)
    if stage is not None:  # an agency's dead letter, sent through its outbox
        return relayed(services, message, stage)
    try:
        envelope = services.codec.decode(message.value)
    except DecodeError as exc:
        services.counts.add("events_consumed", topic=message.topic, type="undecodable")
        return dead_letter(services, message, [exc.reason], "undecodable")
    services.counts.add("events_consumed", topic=message.topic, type=envelope.type.value)
    if envelope.type in HUB_ONLY_TYPES:
        return dead_letter(services, message, [
            f"{envelope.type.value} is sent by the hub only, never by an agency"],
            "hub_only_type")
    if envelope.type in CONSENT_TYPES:
        return ConsentEvent(message, envelope)
    return AgencyEvent(message, envelope)
