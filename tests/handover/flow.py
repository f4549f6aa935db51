"""Handover events and consents built directly (exact times, any agency), for the tracker
tests with and without a broker."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from hub.contract.models import (
    ConsentGranted,
    Envelope,
    HandoverAccepted,
    HandoverCompleted,
    HandoverDeclined,
    HandoverRequested,
    OfferAccepted,
)
from hub.contract.vocabulary import EventType

PAYLOADS = {"requested": HandoverRequested, "accepted": HandoverAccepted,
            "declined": HandoverDeclined, "completed": HandoverCompleted}
PURPOSE = "uebergang_kita_schule"
NS = uuid.UUID("8d7f3c1e-2b6a-5c4d-9e8f-0a1b2c3d4e5f")


def subject_of(name: str) -> str:
    return uuid.uuid5(NS, name).hex * 2


def handover(step: str, sender: str, subject: str, handover_id: str, at: datetime,
             recipient: str | None = None, municipality: str = "kamen") -> Envelope:
    return Envelope(
        id=str(uuid.uuid5(NS, f"{handover_id}|{step}|{sender}|{at.isoformat()}")),
        type=EventType(f"handover.{step}"), source=sender, time=at, subject=subject,
        key_id="test", municipality=municipality, life_phase="kita", purpose=PURPOSE,
        recipient=recipient, correlation_id=handover_id,
        payload=PAYLOADS[step](handover_id=handover_id))


def consent(sender: str, subject: str, recipients: list[str], recorded_at: datetime,
            consent_id: str = "EW-TEST-1", municipality: str = "kamen") -> Envelope:
    return Envelope(
        id=str(uuid.uuid5(NS, f"{consent_id}|{subject}|{recorded_at.isoformat()}")),
        type=EventType.CONSENT_GRANTED, source=sender, time=recorded_at, subject=subject,
        key_id="test", municipality=municipality, life_phase="kita", purpose=PURPOSE,
        payload=ConsentGranted(consent_id=consent_id, recipients=tuple(recipients),
                               valid_from=date(2020, 1, 1), valid_to=None,
                               recorded_at=recorded_at))


def offer(sender: str, subject: str, at: datetime, category: str, municipality: str = "kamen",
          life_phase: str = "kita", record: str = "1") -> Envelope:
    return Envelope(
        id=str(uuid.uuid5(NS, f"offer|{sender}|{subject}|{at.isoformat()}|{record}")),
        type=EventType.OFFER_ACCEPTED, source=sender, time=at, subject=subject,
        key_id="test", municipality=municipality, life_phase=life_phase,
        purpose="fruehe_hilfen", payload=OfferAccepted(offer_category=category))
