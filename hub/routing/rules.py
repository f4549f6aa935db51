"""The routing decision for one event: pure, no Kafka.

``Router.decide`` runs the steps every event goes through:

1. the envelope's ``source`` must be the agency whose outbox it arrived on;
2. the routing rules name candidate recipients for the event type;
3. each candidate is checked on its own by the policies (known agency, has an inbox; the
   consent policy and the dedupe step slot in here) and becomes a delivery or a refusal
   with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hub.agencies import AgencyDirectory
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType

# A policy looks at one (event, recipient) pair and returns a refusal reason, or None.
Policy = Callable[[Envelope, str], "str | None"]


@dataclass(frozen=True)
class Delivery:
    recipient: str
    topic: str


@dataclass(frozen=True)
class Refusal:
    recipient: str | None
    reason: str


@dataclass
class Decision:
    deliveries: list[Delivery] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # reasons to dead-letter the event


def recipient_field(envelope: Envelope) -> list[str]:
    """The agency named in the envelope's ``recipient``."""
    return [envelope.recipient] if envelope.recipient else []


# Event type -> how to find the candidate recipients. Types not listed go to no inbox.
DEFAULT_RULES: dict[EventType, Callable[[Envelope], list[str]]] = {
    EventType.HANDOVER_REQUESTED: recipient_field,
}


class Router:
    def __init__(
        self,
        agencies: AgencyDirectory,
        rules: dict[EventType, Callable[[Envelope], list[str]]] | None = None,
        policies: Sequence[Policy] = (),
    ):
        self.agencies = agencies
        self.rules = DEFAULT_RULES if rules is None else rules
        self.policies = [self._known_recipient, *policies]

    def decide(self, envelope: Envelope, arrived_on: str) -> Decision:
        decision = Decision()
        sender = self.agencies.agency_of_outbox(arrived_on)
        if sender is None or sender.id != envelope.source:
            decision.rejected.append(
                f"source {envelope.source!r} arrived on {arrived_on}, which is not its outbox"
            )
            return decision
        rule = self.rules.get(envelope.type)
        if rule is None:
            return decision
        candidates = rule(envelope)
        if not candidates:
            decision.refusals.append(Refusal(None, f"{envelope.type.value} names no recipient"))
        for recipient in dict.fromkeys(candidates):
            reason = next((r for p in self.policies if (r := p(envelope, recipient))), None)
            if reason:
                decision.refusals.append(Refusal(recipient, reason))
            else:
                decision.deliveries.append(Delivery(recipient, self.agencies.get(recipient).inbox))
        return decision

    def _known_recipient(self, envelope: Envelope, recipient: str) -> str | None:
        agency = self.agencies.get(recipient)
        if agency is None:
            return f"unknown recipient {recipient!r}"
        if not agency.exchanges_events:
            return f"{recipient} has no inbox (kind {agency.kind})"
        return None
