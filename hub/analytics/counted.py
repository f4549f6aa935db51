"""Facts as the aggregator counts them, the slices they fall in, and their encoding in a
store (pure, no Kafka).

A fact (:mod:`hub.analytics.facts`) is counted as a :class:`CountedEvent` or a
:class:`CountedHandover`: what its cells need, with the dates as Europe/Berlin sees them. It
falls in the *slices* (``(topic, period, municipality or agency)``) whose cells it counts
in: an event in the weekly activity of its week and town and, once decided, in the weekly
refusals of its week and sending agency; a handover in the monthly handovers of the month
it was requested and its town (none before its request is known).

:func:`encode_counted` and :func:`decode_counted` write them as compact JSON for a store
on disk (:mod:`hub.analytics.rocks`); :data:`ENCODING` names that encoding, so that a store
written with another one is rebuilt rather than misread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime
from zoneinfo import ZoneInfo

import orjson

from hub.analytics.facts import OUTCOME_OF, EventFact, Fact, HandoverFact, Outcome
from hub.analytics.records import (
    MONTHLY_HANDOVERS,
    WEEKLY_ACTIVITY,
    WEEKLY_REFUSALS,
    iso_week,
    month_of,
)

__all__ = ["LOCAL_TIME", "Counted", "CountedEvent", "CountedHandover", "FactKey", "Slice",
           "counted", "decode_counted", "encode_counted"]

LOCAL_TIME = ZoneInfo("Europe/Berlin")
DECIDED = frozenset({Outcome.ROUTED, Outcome.REFUSED_NO_CONSENT})
ENCODING = "counted-1"
"""The encoding of :func:`encode_counted`; change it when the encoding changes."""

FactKey = tuple[str, str]  # (kind, id)


Slice = tuple[str, str, str]  # (topic, period, municipality or agency)


@dataclass(frozen=True)
class CountedEvent:
    """An :class:`~hub.analytics.facts.EventFact` as the aggregator counts it."""

    id: str
    subject: str
    week: str
    week_start: date
    municipality: str
    life_phase: str
    type: str
    offer_category: str | None
    source: str
    source_kind: str
    source_municipality: str
    outcome: Outcome

    def slices(self) -> list[Slice]:
        found = [(WEEKLY_ACTIVITY, self.week, self.municipality)]
        if self.outcome in DECIDED:
            found.append((WEEKLY_REFUSALS, self.week, self.source))
        return found

    @property
    def column(self) -> tuple[str, str | None]:
        return self.type, self.offer_category


@dataclass(frozen=True)
class CountedHandover:
    """A :class:`~hub.analytics.facts.HandoverFact` as the aggregator counts it."""

    id: str
    subject: str
    month: str | None
    municipality: str
    from_kind: str
    to_kind: str
    answer: str | None
    days_to_answer: float | None
    days_to_completion: float | None
    completed: bool
    stalled: bool
    bounce: bool
    ping_pong: bool

    def slices(self) -> list[Slice]:
        if self.month is None:  # an answer seen before its request: not counted yet
            return []
        return [(MONTHLY_HANDOVERS, self.month, self.municipality)]


Counted = CountedEvent | CountedHandover


def counted(fact: Fact) -> Counted | None:
    """``fact`` as the aggregator counts it; None for an erasure marker (no fact)."""
    if isinstance(fact, EventFact):
        return _counted_event(fact)
    if isinstance(fact, HandoverFact):
        return _counted_handover(fact)
    return None


# -- the facts as counted ---------------------------------------------------------------


def _local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TIME).date()


def _counted_event(fact: EventFact) -> CountedEvent:
    week, monday = iso_week(_local_day(fact.time))
    return CountedEvent(
        id=fact.id, subject=fact.subject, week=week, week_start=monday,
        municipality=fact.municipality, life_phase=fact.life_phase, type=fact.type,
        offer_category=fact.offer_category, source=fact.source,
        source_kind=fact.source_kind, source_municipality=fact.source_municipality,
        outcome=fact.outcome)


def _days(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0) / 86400


def _counted_handover(fact: HandoverFact) -> CountedHandover:
    requested = fact.requested_at
    return CountedHandover(
        id=fact.id, subject=fact.subject,
        month=month_of(_local_day(requested)) if requested else None,
        municipality=fact.municipality, from_kind=fact.requester_kind,
        to_kind=fact.recipient_kind, answer=fact.answer,
        days_to_answer=_days(requested, fact.answered_at),
        days_to_completion=_days(requested, fact.completed_at),
        completed=fact.completed_at is not None, stalled=bool(fact.stalled),
        bounce=fact.bounce, ping_pong=fact.ping_pong)


# -- in a store --------------------------------------------------------------------------


def encode_counted(fact: Counted) -> bytes:
    """``fact`` as compact JSON (a list of its fields in order, the kind first)."""
    if isinstance(fact, CountedEvent):
        fields = ["event", fact.id, fact.subject, fact.week, fact.week_start.toordinal(),
                  fact.municipality, fact.life_phase, fact.type, fact.offer_category,
                  fact.source, fact.source_kind, fact.source_municipality, fact.outcome.value]
    else:
        fields = ["handover", fact.id, fact.subject, fact.month, fact.municipality,
                  fact.from_kind, fact.to_kind, fact.answer, fact.days_to_answer,
                  fact.days_to_completion, fact.completed, fact.stalled, fact.bounce,
                  fact.ping_pong]
    try:
        return orjson.dumps(fields)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits
        return _encode_json(fields).encode()


def decode_counted(data: bytes) -> Counted:
    """The fact :func:`encode_counted` wrote (floats read back exactly: JSON writes their
    shortest repr). Built past the frozen dataclass's ``__init__`` (which sets each field
    through ``object.__setattr__``): a publish reads every fact of a slice back."""
    kind, *values = orjson.loads(data)
    if kind == "event":
        values[3] = date.fromordinal(values[3])
        values[11] = OUTCOME_OF[values[11]]
        cls, names = CountedEvent, _EVENT_FIELDS
    else:
        cls, names = CountedHandover, _HANDOVER_FIELDS
    fact = object.__new__(cls)
    fact.__dict__.update(zip(names, values, strict=True))
    return fact


_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_EVENT_FIELDS = tuple(f.name for f in fields(CountedEvent))
_HANDOVER_FIELDS = tuple(f.name for f in fields(CountedHandover))
