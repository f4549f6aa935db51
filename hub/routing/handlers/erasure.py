"""An erasure request (``hub erase``, on ``hub.requests``; pure): the child is forgotten in
every store (tombstones in their changelogs and in the consent ledger), its held events are
dropped (audited ``erased``), the analytics are told to take the pseudonym out of their
facts (:func:`~hub.analytics.facts.erasure_marker`), and every agency that received an
event of the child gets a ``subject.erased`` notice."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from hub.analytics.facts import erasure_marker
from hub.analytics.placement import marker_partitions
from hub.audit import DELIVERED, ERASED
from hub.consent.ledger import ledger_key
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType
from hub.core.reasons import NoteKind
from hub.core.topics import CONSENT_TOPIC, FACTS_TOPIC, LINKAGE_DECISIONS_TOPIC, LINKAGE_TOPIC
from hub.errors import DecodeError
from hub.routing.deciding import HUB_SOURCE
from hub.routing.erasure import (
    ErasureRequest,
    decode_request,
    erasure_params,
    erasure_summary,
    held_erased,
)
from hub.routing.messages import Erasure, Incoming, Output
from hub.routing.notices import ERASURE_NOTICE, erasure_notice
from hub.routing.outputs import audit, dead_letter, deliver
from hub.routing.services import Services
from hub.routing.state import RouterStores


def handle_erasure(erasure: Erasure, stores: RouterStores,
                   services: Services) -> list[Output]:
    message = erasure.message
    request = request_of(message, services)
    if isinstance(request, Output):
        return [request]
    subject, now = request.subject, services.clock.now()
    received = forget_received(subject, erasure.inbox, stores, services)
    consents = stores.consents.of(subject)
    out = [Output(CONSENT_TOPIC, ledger_key(subject, state.consent_id), None,
                  type="tombstone") for state in consents]
    # the child's linkage encodings, which its agencies' connectors sent, and what the
    # linkage stage decided about it
    out.append(Output(LINKAGE_TOPIC, subject.encode(), None, type="tombstone"))
    out.append(Output(LINKAGE_DECISIONS_TOPIC, subject.encode(), None, type="tombstone"))
    stores.identities.forget(subject)
    stores.aliases.forget(subject)
    served = stores.served.of(subject)
    held = stores.held.forget(subject, services.codec.decode)
    out += [audit(services, envelope, ERASED, now, reason=held_erased(request.reference),
                  kind=NoteKind.HELD_ERASED, params={"reference": request.reference})
            for envelope in held]
    stores.consents.forget(subject)
    stores.served.forget(subject)
    handovers = stores.handovers.forget_subject(subject, message.partition)
    recipients = [r for r in dict.fromkeys([
        *received, *(a for agencies in served.values() for a in agencies)])
        if r != HUB_SOURCE and services.agencies.get(r)]
    known = [*received.values(), *held]

    def notice(recipient: str | None) -> Envelope:
        return erasure_notice(request, recipient, received.get(recipient), known, handovers,
                              consents, services.agencies, services.clock.now())

    for recipient in recipients:
        envelope = notice(recipient)
        if stores.delivered.has(recipient, envelope.id, now):
            continue  # the request read again: told already
        out.append(deliver(services, stores.delivered, recipient, envelope,
                           services.codec.encode(envelope), now))
        out.append(audit(services, envelope, DELIVERED, now, recipient,
                         f"{ERASURE_NOTICE} (reference {request.reference})",
                         NoteKind.ERASURE_NOTICE, {"reference": request.reference}))
    key, value = erasure_marker(request.id, subject, secrets.token_hex(16))
    out += [Output(FACTS_TOPIC, key, value, type="fact", partition=partition)
            for partition in marker_partitions()]  # each partition's aggregator reads it
    summary = erasure_summary(request.reference, len(consents), len(held),
                              len(handovers), recipients)
    params = erasure_params(request.reference, len(consents), len(held), len(handovers),
                            recipients)
    out.append(audit(services, notice(None), ERASED, now, reason=summary,
                     kind=NoteKind.ERASURE, params=params, **{
        "event_id": request.id, "requested_by": request.requested_by,
        "event_time": request.requested_at.isoformat()}))
    services.counts.add("erasures", outcome="erased")
    return out


def request_of(message: Incoming, services: Services) -> ErasureRequest | Output:
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
    services.counts.add("erasures", outcome="invalid")
    return dead_letter(services, message, [reason], "invalid_request")


def forget_received(subject: str, inbox: Sequence[tuple[str, bytes]], stores: RouterStores,
                    services: Services) -> dict[str, Envelope]:
    """Forget that the agencies have the child's events (found in ``inbox``); returns
    recipient -> the latest event it received. Erasure notices stay remembered, so that a
    request read again sends none twice."""
    received: dict[str, Envelope] = {}
    for recipient, raw in inbox:
        try:
            envelope = services.codec.decode(raw)
        except DecodeError:
            continue
        if envelope.subject != subject or envelope.type is EventType.SUBJECT_ERASED:
            continue
        stores.delivered.remove(recipient, envelope.id)
        if recipient not in received or received[recipient].time <= envelope.time:
            received[recipient] = envelope
    return received
