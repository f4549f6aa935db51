"""Facts: what the router tells the analytics aggregator (pure, no Kafka).

The router writes one fact per event (what it was and how it was decided) and one per
handover (its current state) to ``hub.facts``, a compacted, hub-internal topic keyed by
``event|<id>`` or ``handover|<id>``: a later fact replaces the earlier one, so a re-decided
event or a handover's next step corrects what the analytics show. Facts carry the child's
pseudonym (to count distinct children); the analytics records built from them never do.
"""

from __future__ import annotations

import json

from hub.agencies import AgencyDirectory
from hub.audit import reason_kind
from hub.contract.models import Envelope
from hub.handover.tracker import Handover
from hub.routing.rules import Decision

FACTS_TOPIC = "hub.facts"
HELD, NOT_ROUTED, ROUTED, REFUSED_NO_CONSENT = "held", "not_routed", "routed", \
    "refused_no_consent"


def outcome_of(decision: Decision) -> str:
    if decision.hold:
        return HELD
    if decision.not_routed:
        return NOT_ROUTED
    if any(reason_kind(r.reason) == "no_consent" for r in decision.refusals):
        return REFUSED_NO_CONSENT
    return ROUTED


def event_fact(envelope: Envelope, decision: Decision, agencies: AgencyDirectory) -> dict:
    source = agencies.get(envelope.source)
    return {
        "kind": "event", "id": envelope.id, "subject": envelope.subject,
        "time": envelope.time.isoformat(), "municipality": envelope.municipality.value,
        "life_phase": envelope.life_phase.value, "type": envelope.type.value,
        "offer_category": getattr(envelope.payload, "offer_category", None),
        "source": envelope.source, "source_kind": source.kind if source else "unknown",
        "source_municipality": source.municipality if source else
        envelope.municipality.value,
        "outcome": outcome_of(decision),
    }


def handover_fact(h: Handover, agencies: AgencyDirectory) -> dict:
    def kind(agency_id):
        agency = agencies.get(agency_id) if agency_id else None
        return agency.kind if agency else "unknown"

    data = h.to_json()
    return {
        "kind": "handover", "id": h.handover_id, "subject": h.subject,
        "municipality": h.municipality, "requester": h.requester,
        "requester_kind": kind(h.requester), "recipient": h.recipient,
        "recipient_kind": kind(h.recipient), "requested_at": data["requested_at"],
        "answer": h.answer, "answered_at": data["answered_at"],
        "completed_at": data["completed_at"], "stalled": list(h.stalled),
        "bounce": h.bounce, "ping_pong": h.ping_pong,
    }


def fact_key(fact: dict) -> bytes:
    return f"{fact['kind']}|{fact['id']}".encode()


def encode_fact(fact: dict) -> bytes:
    return json.dumps(fact, sort_keys=True, separators=(",", ":")).encode()


def decode_fact(data: bytes | None) -> dict | None:
    """The fact in ``data``; None when it is not a JSON object."""
    try:
        fact = json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        return None
    return fact if isinstance(fact, dict) else None


ERASURE = "erasure"
"""The kind of the marker the router writes to ``hub.facts`` when it erased a child."""


def erasure_marker(erasure_id: str, subject: str, token: str) -> tuple[bytes, bytes]:
    """The record that tells the aggregator to take ``subject``'s pseudonym out of every
    fact written before it: key ``erasure|<erasure id>``, value
    ``{"kind": "erasure", "id", "subject", "token"}``. ``token`` (random hex, 32 digits)
    replaces the pseudonym, so the erased child still counts as one child in the cells
    already published; the aggregator deletes the marker (a tombstone) once it is done,
    and with it the only link between the token and the pseudonym."""
    fact = {"kind": ERASURE, "id": erasure_id, "subject": subject, "token": token}
    return fact_key(fact), encode_fact(fact)
