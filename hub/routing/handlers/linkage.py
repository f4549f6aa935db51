"""Linkage in the router (pure): the linkage stage's decisions, and the events of a
pseudonym linked to another child.

A pseudonym that is the **same child** as another (the stage linked it, or the trust
office confirmed it) has its events handled as that child's: the router forwards them on
``hub.linked``, keyed by the child, to the child's partition, where consent, hold window,
dedupe, handover tracking and audit see one child. When the decision arrives, the
pseudonym's held events and its consents go the same way, so that a variant that came
before the consent is routed once the consent is known. The child remembers under which
pseudonym each agency knows it (:class:`~hub.routing.state.Aliases`): an event is delivered
under the pseudonym its recipient knows.

A **possible match** holds the pseudonym's held events beyond the hold window, up to the
review window (``HUB_LINKAGE_REVIEW_DAYS``), for the trust office; a **new child** changes
nothing.
"""

from __future__ import annotations

import json

from hub.consent.ledger import ConsentState, merge
from hub.core.headers import header_texts
from hub.core.topics import LINKED_TOPIC
from hub.errors import DecodeError
from hub.linkage.records import LinkDecision, Outcome
from hub.routing.deciding import reconsider
from hub.routing.messages import (
    AgencyEvent,
    ConsentEvent,
    ForwardedConsent,
    Incoming,
    LinkageDecision,
    Output,
)
from hub.routing.outputs import dead_letter
from hub.routing.rules import CONSENT_TYPES
from hub.routing.services import Services
from hub.routing.state import RouterStores

LINKED_FROM = "hub-linked-from"
"""Header of a forwarded record: the pseudonym it came under."""
SOURCE_TOPIC = "hub-source-topic"
"""Header of a forwarded event: the outbox it came from ("" for the hub's own events)."""
KIND = "hub-linked-kind"
"""Header of a forwarded record: "event" or "consent-state"."""


def read_decision(message: Incoming, services: Services) -> LinkageDecision | Output:
    if message.value is None:  # an erasure's tombstone: the erasure forgot it already
        return LinkageDecision(message, None)
    try:
        return LinkageDecision(message, LinkDecision.from_bytes(message.value))
    except ValueError as exc:
        return dead_letter(services, message, [str(exc)], "invalid_linkage_decision")


def handle_linkage_decision(event: LinkageDecision, stores: RouterStores,
                            services: Services) -> list[Output]:
    d = event.decision
    if d is None:
        return []
    stores.identities.note(d.pseudonym, d.outcome.value, d.child)
    services.counts.add("linkage_decisions_applied", outcome=d.outcome.value)
    if d.outcome is not Outcome.SAME or d.child == d.pseudonym:
        return []
    return forward_held(d.pseudonym, d.child, stores, services) + \
        forward_consents(d.pseudonym, d.child, stores)


def forward(event: AgencyEvent | ConsentEvent, child: str, services: Services) -> Output:
    """An event of a linked pseudonym, on its way to its child's partition."""
    services.counts.add("linkage_forwarded", kind="event")
    return _linked(child, event.message.value, event.envelope.subject, "event",
                   event.message.topic)


def forward_held(pseudonym: str, child: str, stores: RouterStores,
                 services: Services) -> list[Output]:
    """The pseudonym's held events, now the child's to decide."""
    out = [_linked(child, stores.held.raw(entry), pseudonym, "event", entry["topic"])
           for entry in stores.held.waiting(pseudonym)]
    if out:
        stores.held.forget(pseudonym, services.codec.decode)
    return out


def forward_consents(pseudonym: str, child: str, stores: RouterStores) -> list[Output]:
    """The pseudonym's consents, now the child's too (they stay with the pseudonym as well:
    an unlink gives it back what it had)."""
    return [_linked(child, json.dumps({"consent": state.to_json()}).encode(), pseudonym,
                    "consent-state") for state in stores.consents.of(pseudonym)]


def _linked(child: str, value: bytes, alias: str, kind: str,
            topic: str | None = None) -> Output:
    """A record of ``alias`` (an event, or a consent state) for ``child``'s partition;
    ``topic``: the outbox an event came from (None for the hub's own events)."""
    return Output(LINKED_TOPIC, child.encode(), value, (
        (LINKED_FROM, alias.encode()), (SOURCE_TOPIC, (topic or "").encode()),
        (KIND, kind.encode())), type="linked")


def read_forwarded(message: Incoming, stores: RouterStores, services: Services
                   ) -> AgencyEvent | ConsentEvent | ForwardedConsent | Output:
    """A record of ``hub.linked``, as the child's own input: the event with the child as its
    subject (the agency's pseudonym remembered), or a consent state."""
    headers = header_texts(message.headers)
    child = (message.key or b"").decode()
    alias = headers.get(LINKED_FROM, "")
    if not child or not alias:
        return dead_letter(services, message, ["a forwarded record names no child or no "
                                               "pseudonym"], "invalid_linked")
    if headers.get(KIND) == "consent-state":
        try:
            state = ConsentState.from_json(json.loads(message.value)["consent"])
        except (ValueError, KeyError, TypeError) as exc:
            return dead_letter(services, message, [f"not a consent state: {exc}"],
                               "invalid_linked")
        return ForwardedConsent(message, child, alias, state)
    try:
        envelope = services.codec.decode(message.value)
    except DecodeError as exc:
        return dead_letter(services, message, [exc.reason], "invalid_linked")
    own = envelope.model_copy(update={"subject": child})
    incoming = Incoming(headers.get(SOURCE_TOPIC) or None, message.partition, message.offset,
                        services.codec.encode(own), message.key, message.headers)
    if own.type in CONSENT_TYPES:
        stores.aliases.note(child, f"consent:{own.correlation_id}", alias)
        return ConsentEvent(incoming, own)
    stores.aliases.note(child, envelope.source, alias)
    return AgencyEvent(incoming, own)


def handle_forwarded_consent(event: ForwardedConsent, stores: RouterStores,
                             services: Services) -> list[Output]:
    """A linked pseudonym's consent, the child's now: its held events may go."""
    states = {s.consent_id: s for s in stores.consents.of(event.child)}
    merged = merge(states, event.state)
    stores.aliases.note(event.child, f"consent:{event.state.consent_id}", event.alias)
    if merged == states:
        return []
    stores.consents.store(event.child, merged[event.state.consent_id])
    return reconsider(event.child, stores, services, consents=list(merged.values()))

