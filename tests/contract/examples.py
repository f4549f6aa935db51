"""Example events for the contract tests: a valid envelope of every event type."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType


def example_payload(event_type: EventType, with_optional: bool) -> dict[str, Any]:
    """A valid payload dict for ``event_type``; optional fields set only if ``with_optional``."""
    family = event_type.value.split(".")[0]
    if family == "consent":
        payload: dict[str, Any] = {
            "consent_id": "EV-2025-0042",
            "recipients": ["gesundheitsamt-unna", "kita-traeger-kamen"],
            "valid_from": date(2025, 3, 1),
            "recorded_at": datetime(2025, 3, 3, 8, 15, 0, 250000, tzinfo=UTC),
        }
        if with_optional:
            payload["valid_to"] = date(2026, 2, 28)
        if event_type is EventType.CONSENT_REVOKED:
            payload["effective_at"] = datetime(2025, 6, 1, tzinfo=UTC)
        return payload
    if family == "offer":
        return {"offer_category": "Familienhebamme"}
    if event_type is EventType.HANDOVER_STALLED:
        return {
            "handover_id": "UE-7781",
            "requested_by": "jugendamt-kamen",
            "waiting_for": "answer",
            "deadline": datetime(2025, 3, 17, 23, 0, tzinfo=UTC),
        }
    if family == "handover":
        return {"handover_id": "UE-7781"}
    if event_type is EventType.SUBJECT_ERASED:
        return {"reference": "VS-2026/0042"}
    return {"screening_kind": "schuleingangsuntersuchung", "support_category": "ohne_befund"}


def example_envelope(
    event_type: EventType = EventType.OFFER_ACCEPTED,
    with_optional: bool = False,
    **overrides: Any,
) -> Envelope:
    """A valid envelope; optional fields set only if ``with_optional``; ``overrides`` win."""
    fields: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"unna-hub-test/{event_type.value}")),
        "type": event_type,
        "source": "jugendamt-kamen",
        "time": datetime(2025, 3, 3, 9, 0, 0, 125000, tzinfo=UTC),
        "subject": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "key_id": "pseudo-2025-01",
        "municipality": "kamen",
        "life_phase": "kita",
        "purpose": "fruehe_hilfen",
        "payload": example_payload(event_type, with_optional),
    }
    if with_optional:
        fields["recipient"] = "gesundheitsamt-unna"
        fields["correlation_id"] = "UE-7781"
    fields.update(overrides)
    return Envelope(**fields)
