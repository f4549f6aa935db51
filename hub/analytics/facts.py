"""Facts: what the router tells the analytics aggregator (pure, no Kafka).

The router writes one fact per event (what it was and how it was decided) and one per
handover (its current state) to ``hub.facts``, a compacted, hub-internal topic keyed by
``event|<id>`` or ``handover|<id>``: a later fact replaces the earlier one, so a re-decided
event or a handover's next step corrects what the analytics show. Facts carry the child's
pseudonym (to count distinct children); the analytics records built from them never do.

A fact is a typed record (:class:`EventFact`, :class:`HandoverFact`, and the
:class:`ErasureMarker` that is no fact but travels on the same topic). Their one codec is
:func:`encode_fact` (JSON, sorted keys, no spaces) and :func:`decode_fact`, which checks
every field: what it returns, the aggregator can count. The router writes with it, the
aggregator and the erasure rewrite read with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import orjson

from hub.agencies import AgencyDirectory
from hub.contract.models import Envelope
from hub.contract.vocabulary import LifePhase, Municipality
from hub.core.decisions import Decision, ReasonKind
from hub.core.topics import FACTS_TOPIC as FACTS_TOPIC  # named in hub.core.topics
from hub.handover.machine import Handover

MUNICIPALITIES = frozenset(m.value for m in Municipality)
LIFE_PHASES = frozenset(p.value for p in LifePhase)
ANSWERS = frozenset({None, "accepted", "declined"})


class Outcome(StrEnum):
    """How the router decided an event."""

    HELD = "held"
    NOT_ROUTED = "not_routed"
    ROUTED = "routed"  # delivered to someone, or refused for another reason than consent
    REFUSED_NO_CONSENT = "refused_no_consent"


OUTCOME_OF = {outcome.value: outcome for outcome in Outcome}
"""Each outcome by its value (a fact's ``outcome``)."""


class FactError(ValueError):
    """A record of ``hub.facts`` that is not a fact (the message names no pseudonym)."""


@dataclass(frozen=True)
class EventFact:
    kind: ClassVar[str] = "event"
    id: str
    subject: str
    time: datetime
    municipality: str
    life_phase: str
    type: str
    offer_category: str | None
    source: str
    source_kind: str
    source_municipality: str
    outcome: Outcome

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "subject": self.subject,
                "time": self.time.isoformat(), "municipality": self.municipality,
                "life_phase": self.life_phase, "type": self.type,
                "offer_category": self.offer_category, "source": self.source,
                "source_kind": self.source_kind,
                "source_municipality": self.source_municipality,
                "outcome": self.outcome.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventFact:
        return cls(
            id=_text(data, "id"), subject=_text(data, "subject"), time=_moment(data, "time"),
            municipality=_one_of(data, "municipality", MUNICIPALITIES),
            life_phase=_one_of(data, "life_phase", LIFE_PHASES), type=_text(data, "type"),
            offer_category=_text(data, "offer_category", optional=True),
            source=_text(data, "source"), source_kind=_text(data, "source_kind"),
            source_municipality=_one_of(data, "source_municipality", MUNICIPALITIES),
            outcome=OUTCOME_OF[_one_of(data, "outcome", OUTCOME_OF.keys())])


@dataclass(frozen=True)
class HandoverFact:
    kind: ClassVar[str] = "handover"
    id: str
    subject: str
    municipality: str
    requester: str | None
    requester_kind: str  # "unknown" when the agency is not known
    recipient: str | None
    recipient_kind: str
    requested_at: datetime | None  # None: an answer seen before its request
    answer: str | None  # accepted | declined
    answered_at: datetime | None
    completed_at: datetime | None
    stalled: tuple[str, ...]  # the steps reported as stalled
    bounce: bool
    ping_pong: bool

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "subject": self.subject,
                "municipality": self.municipality, "requester": self.requester,
                "requester_kind": self.requester_kind, "recipient": self.recipient,
                "recipient_kind": self.recipient_kind,
                "requested_at": _iso(self.requested_at), "answer": self.answer,
                "answered_at": _iso(self.answered_at),
                "completed_at": _iso(self.completed_at), "stalled": list(self.stalled),
                "bounce": self.bounce, "ping_pong": self.ping_pong}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HandoverFact:
        stalled = data.get("stalled", [])
        if not isinstance(stalled, list) or not all(isinstance(s, str) for s in stalled):
            raise FactError("stalled: expected a list of steps")
        return cls(
            id=_text(data, "id"), subject=_text(data, "subject"),
            municipality=_one_of(data, "municipality", MUNICIPALITIES),
            requester=_text(data, "requester", optional=True, empty=True),
            requester_kind=_agency_kind(data, "requester_kind"),
            recipient=_text(data, "recipient", optional=True, empty=True),
            recipient_kind=_agency_kind(data, "recipient_kind"),
            requested_at=_moment(data, "requested_at", optional=True),
            answer=_one_of(data, "answer", ANSWERS, optional=True),
            answered_at=_moment(data, "answered_at", optional=True),
            completed_at=_moment(data, "completed_at", optional=True),
            stalled=tuple(stalled), bounce=_flag(data, "bounce"),
            ping_pong=_flag(data, "ping_pong"))


@dataclass(frozen=True)
class ErasureMarker:
    """The record that tells the aggregator to take ``subject``'s pseudonym out of every
    fact written before it (see :func:`erasure_marker`; :mod:`hub.analytics.erasure`
    checks it before carrying it out)."""

    kind: ClassVar[str] = "erasure"
    id: str
    subject: str
    token: str

    @property
    def key(self) -> bytes:
        return f"{self.kind}|{self.id}".encode()

    def __repr__(self) -> str:  # never the pseudonym, nor the token that replaces it
        return f"ErasureMarker(id={self.id!r})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "subject": self.subject,
                "token": self.token}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErasureMarker:
        return cls(*(_text(data, name, empty=True) for name in ("id", "subject", "token")))


Fact = EventFact | HandoverFact | ErasureMarker
ERASURE = ErasureMarker.kind
"""The kind of the marker the router writes to ``hub.facts`` when it erased a child."""
_KINDS: dict[str, type[EventFact] | type[HandoverFact] | type[ErasureMarker]] = {
    EventFact.kind: EventFact, HandoverFact.kind: HandoverFact, ERASURE: ErasureMarker}


# -- the codec -------------------------------------------------------------------------


def fact_key(fact: Fact) -> bytes:
    return f"{fact.kind}|{fact.id}".encode()


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""json.dumps(..., sort_keys=True, separators=(",", ":")), built once."""


def encode_fact(fact: Fact) -> bytes:
    """The fact's JSON: sorted keys, no spaces, every character beyond ASCII escaped (as
    the standard library's ``json.dumps(..., sort_keys=True, separators=(",", ":"))``
    writes it, so a fact written again is the same bytes). orjson writes the same bytes
    about five times faster whenever they are printable ASCII; otherwise (a name of a
    place with an umlaut, DEL) the standard library writes them."""
    data = fact.to_json()
    try:
        encoded = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError, e.g. an integer beyond 64 bits
        encoded = b""
    if encoded and encoded.isascii() and b"\x7f" not in encoded:
        return encoded
    return _ENCODER.encode(data).encode()


def fact_from_json(data: Any) -> Fact:
    """The fact in a decoded JSON value; :class:`FactError` says why it is none."""
    if not isinstance(data, Mapping):
        raise FactError("not a JSON object")
    name = data.get("kind")
    kind = _KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise FactError(f"unknown kind {str(name)[:40]!r}")
    try:
        return kind.from_json(data)
    except FactError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FactError(f"{kind.kind} fact: {type(exc).__name__}") from None


def decode_fact(data: bytes | None) -> Fact | None:
    """The fact in ``data``; None when it is none (not JSON, or a field is missing or
    wrong)."""
    try:
        return fact_from_json(orjson.loads(data)) if data else None
    except (ValueError, UnicodeDecodeError):  # FactError is a ValueError
        return None


def _text(data: Mapping[str, Any], name: str, *, optional: bool = False,
          empty: bool = False) -> str | None:
    value = data.get(name) if optional else data[name]
    if value is None and optional:
        return None
    if not isinstance(value, str) or not (value or empty):
        raise FactError(f"{name}: expected text")
    return value


def _one_of(data: Mapping[str, Any], name: str, allowed: frozenset, *,
            optional: bool = False) -> Any:
    value = data.get(name) if optional else data[name]
    if value not in allowed:
        raise FactError(f"{name}: not one of the known values")
    return value


def _moment(data: Mapping[str, Any], name: str, *, optional: bool = False
            ) -> datetime | None:
    text = _text(data, name, optional=optional)
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise FactError(f"{name}: a timestamp without its offset")
    return moment


def _agency_kind(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name) or "unknown"
    if not isinstance(value, str):
        raise FactError(f"{name}: expected text")
    return value


def _flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise FactError(f"{name}: expected true or false")
    return value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# -- what the router writes ------------------------------------------------------------


def outcome_of(decision: Decision) -> Outcome:
    if decision.hold:
        return Outcome.HELD
    if decision.not_routed:
        return Outcome.NOT_ROUTED
    if any(r.kind is ReasonKind.NO_CONSENT for r in decision.refusals):
        return Outcome.REFUSED_NO_CONSENT
    return Outcome.ROUTED


def event_fact(envelope: Envelope, decision: Decision, agencies: AgencyDirectory
               ) -> EventFact:
    source = agencies.get(envelope.source)
    return EventFact(
        id=envelope.id, subject=envelope.subject, time=envelope.time,
        municipality=envelope.municipality.value, life_phase=envelope.life_phase.value,
        type=envelope.type.value,
        offer_category=getattr(envelope.payload, "offer_category", None),
        source=envelope.source, source_kind=source.kind if source else "unknown",
        source_municipality=source.municipality if source else envelope.municipality.value,
        outcome=outcome_of(decision))


def handover_fact(h: Handover, agencies: AgencyDirectory) -> HandoverFact:
    def kind(agency_id):
        agency = agencies.get(agency_id) if agency_id else None
        return agency.kind if agency else "unknown"

    return HandoverFact(
        id=h.handover_id, subject=h.subject, municipality=h.municipality,
        requester=h.requester, requester_kind=kind(h.requester), recipient=h.recipient,
        recipient_kind=kind(h.recipient), requested_at=h.requested_at, answer=h.answer,
        answered_at=h.answered_at, completed_at=h.completed_at, stalled=tuple(h.stalled),
        bounce=h.bounce, ping_pong=h.ping_pong)


def erasure_marker(erasure_id: str, subject: str, token: str) -> tuple[bytes, bytes]:
    """The record that tells the aggregator to take ``subject``'s pseudonym out of every
    fact written before it: key ``erasure|<erasure id>``, value
    ``{"kind": "erasure", "id", "subject", "token"}``. ``token`` (random hex, 32 digits)
    replaces the pseudonym, so the erased child still counts as one child in the cells
    already published; the aggregator deletes the marker (a tombstone) once it is done,
    and with it the only link between the token and the pseudonym."""
    marker = ErasureMarker(erasure_id, subject, token)
    return fact_key(marker), encode_fact(marker)
