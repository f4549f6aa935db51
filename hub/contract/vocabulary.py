"""The closed vocabularies of the event contract, mirrored by the Avro enums in ``schemas/enums``.

Python code uses these enums everywhere. Their values equal the Avro enum symbols, except for
:class:`EventType`: its values are dotted (``consent.granted``) while Avro symbols cannot contain
dots, so on the wire each dot becomes an underscore (``consent_granted``). Use
:func:`event_type_symbol` and :func:`event_type_from_symbol` to cross that boundary.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What happened to a child's case; decides which payload model an envelope carries."""

    CONSENT_GRANTED = "consent.granted"
    CONSENT_REVOKED = "consent.revoked"
    OFFER_MADE = "offer.made"
    OFFER_ACCEPTED = "offer.accepted"
    OFFER_DECLINED = "offer.declined"
    OFFER_COMPLETED = "offer.completed"
    HANDOVER_REQUESTED = "handover.requested"
    HANDOVER_ACCEPTED = "handover.accepted"
    HANDOVER_DECLINED = "handover.declined"
    HANDOVER_COMPLETED = "handover.completed"
    HANDOVER_STALLED = "handover.stalled"
    SCREENING_COMPLETED = "screening.completed"
    SUBJECT_ERASED = "subject.erased"


class Municipality(StrEnum):
    """The nine municipalities of Kreis Unna."""

    BERGKAMEN = "bergkamen"
    BOENEN = "boenen"
    FROENDENBERG = "froendenberg"
    HOLZWICKEDE = "holzwickede"
    KAMEN = "kamen"
    LUENEN = "luenen"
    SELM = "selm"
    UNNA = "unna"
    WERNE = "werne"


class LifePhase(StrEnum):
    """The child's life phase in the prevention chain."""

    RUND_UM_GEBURT = "rund_um_geburt"
    KLEINKIND = "kleinkind"
    KITA = "kita"
    GRUNDSCHULE = "grundschule"
    SEK1 = "sek1"
    UEBERGANG_BERUF = "uebergang_beruf"


class Purpose(StrEnum):
    """The purpose an event is processed for; consent is always bound to a purpose."""

    FRUEHE_HILFEN = "fruehe_hilfen"
    UEBERGANG_KITA_SCHULE = "uebergang_kita_schule"
    UEBERGANG_SCHULE_BERUF = "uebergang_schule_beruf"
    STATISTIK = "statistik"


class StallStep(StrEnum):
    """The step an overdue handover is waiting for."""

    ANSWER = "answer"
    COMPLETION = "completion"


class TimePrecision(StrEnum):
    """How much of an event's ``time`` the producer knew (since release 3 of the contract)."""

    INSTANT = "instant"
    """``time`` is the point in time of the event (the hub's own notices, and any event
    written with release 1 or 2)."""
    DATE = "date"
    """Only the day is known (an agency export row): ``time`` is midnight UTC of that day and
    says nothing about the time of day; show the date alone."""


def event_type_symbol(event_type: EventType) -> str:
    """The Avro enum symbol of an event type: ``consent.granted`` -> ``consent_granted``."""
    return event_type.value.replace(".", "_")


_EVENT_TYPES_BY_SYMBOL = {event_type_symbol(member): member for member in EventType}


def event_type_from_symbol(symbol: str) -> EventType:
    """The event type of an Avro enum symbol; raises ``ValueError`` for an unknown symbol."""
    try:
        return _EVENT_TYPES_BY_SYMBOL[symbol]
    except KeyError:
        raise ValueError(f"unknown event type symbol {symbol!r}") from None
