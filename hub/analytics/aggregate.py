"""The analytics aggregator: facts in, anonymous cells out (pure, no Kafka).

The router's facts (see :mod:`hub.analytics.facts`, which decodes and checks them) are
upserts keyed by ``kind|id``. The aggregator keeps the latest fact of each key, as it counts
it (:class:`CountedEvent`, :class:`CountedHandover`), indexed by the *slice* it falls in:

* ``analytics.weekly_activity``: ISO week × municipality (a table of life phases × event
  types, with offer categories for offers);
* ``analytics.monthly_handovers``: month of the request × municipality (a table of the kinds
  of the requesting × the requested agency);
* ``analytics.weekly_refusals``: ISO week × sending agency (one cell).

A fact that changes moves its counts from its old slice to its new one and marks both dirty.
:meth:`Aggregator.publish` recomputes the dirty slices (suppression included, see
:mod:`hub.analytics.suppression`) and returns only the cells whose published version
changes, so a late event re-publishes the cells of its window and nothing else. Cells that
were published before and are now empty are re-published as zeros, so the compacted topic
never keeps a stale count. Weeks and months follow the local date in Europe/Berlin.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.analytics.facts import EventFact, Fact, HandoverFact, Outcome, decode_fact
from hub.analytics.records import (
    MONTHLY_HANDOVERS,
    WEEKLY_ACTIVITY,
    WEEKLY_REFUSALS,
    cell_key,
    iso_week,
    month_of,
)
from hub.analytics.suppression import PublishedTable, Suppression, check_k, is_primary, suppress
from hub.contract.vocabulary import LifePhase

__all__ = ["Aggregator", "LOCAL_TIME"]

LOCAL_TIME = ZoneInfo("Europe/Berlin")
LIFE_PHASES = tuple(p.value for p in LifePhase)
DECIDED = frozenset({Outcome.ROUTED, Outcome.REFUSED_NO_CONSENT})

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


class Aggregator:
    """Latest facts by key, and the analytics cells they give (see the module docs)."""

    def __init__(self, k: int = 5) -> None:
        self.k = check_k(k)
        self.reset()

    def reset(self) -> None:
        """Forget every fact and every published cell."""
        self._facts: dict[tuple[str, str], Counted] = {}
        self._slices: dict[Slice, set[tuple[str, str]]] = {}
        self._published: dict[tuple[str, bytes], dict[str, Any]] = {}
        self._published_in: dict[Slice, set[bytes]] = {}
        self._dirty: set[Slice] = set()

    # -- input -------------------------------------------------------------------------

    def apply(self, fact: Fact) -> bool:
        """Insert or replace a fact; False (and nothing changes) when it is none the
        aggregator counts (an erasure marker)."""
        if isinstance(fact, EventFact):
            parsed: Counted = _counted_event(fact)
        elif isinstance(fact, HandoverFact):
            parsed = _counted_handover(fact)
        else:
            return False
        key = (fact.kind, fact.id)
        old = self._facts.get(key)
        if old == parsed:
            return True
        if old is not None:
            self._unindex(key, old)
        self._facts[key] = parsed
        for s in parsed.slices():
            self._slices.setdefault(s, set()).add(key)
            self._dirty.add(s)
        return True

    def remove(self, kind: str, fact_id: str) -> None:
        """Forget a fact (a tombstone on the facts topic)."""
        old = self._facts.pop((kind, fact_id), None)
        if old is not None:
            self._unindex((kind, fact_id), old)

    def apply_rewrite(self, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Carry out an erasure's records (see :func:`hub.analytics.erasure.erasure_records`)
        in one step, before they are sent: the rewritten facts in, the old keys out. The
        token stands for the child as its pseudonym did, so no cell changes; when the
        records come back through the topic they change nothing (the same facts, keys
        already gone, the marker's tombstone is no fact)."""
        for key, value in records:
            kind, _, fact_id = (key or b"").decode(errors="replace").partition("|")
            if value is None:
                self.remove(kind, fact_id)
            else:
                fact = decode_fact(value)
                if fact is not None:
                    self.apply(fact)

    def seed_published(self, topic: str, key: bytes, record: Mapping[str, Any]) -> None:
        """Tell the aggregator what the analytics topic already holds for ``key``."""
        s = _slice_of_record(topic, record)
        if s is None:
            return
        self._published[(topic, key)] = _comparable(record)
        self._published_in.setdefault(s, set()).add(key)

    def mark_all_dirty(self) -> None:
        """Recompute every slice on the next :meth:`publish` (after a rebuild)."""
        self._dirty.update(self._slices)
        self._dirty.update(self._published_in)

    def __len__(self) -> int:
        return len(self._facts)

    @property
    def dirty(self) -> int:
        return len(self._dirty)

    # -- output ------------------------------------------------------------------------

    def publish(self, now: datetime) -> list[tuple[str, bytes, dict[str, Any]]]:
        """The cells of the dirty slices whose published version changes, as
        ``(topic, key, record)``; they count as published from here on."""
        stamp = now
        out: list[tuple[str, bytes, dict[str, Any]]] = []
        for s in sorted(self._dirty):
            facts = [self._facts[key] for key in sorted(self._slices.get(s, ()))]
            topic = s[0]
            if topic == WEEKLY_ACTIVITY:
                cells = _weekly_activity(s, facts, self._previous(s), self.k)
            elif topic == MONTHLY_HANDOVERS:
                cells = _monthly_handovers(s, facts, self._previous(s), self.k)
            else:
                cells = _weekly_refusals(s, facts, self._previous(s), self.k)
            for key, record in cells:
                comparable = _comparable(record)
                if self._published.get((topic, key)) == comparable:
                    continue
                self._published[(topic, key)] = comparable
                self._published_in.setdefault(s, set()).add(key)
                out.append((topic, key, {**record, "updated_at": stamp}))
        self._dirty.clear()
        return out

    def _previous(self, s: Slice) -> list[dict[str, Any]]:
        return [self._published[(s[0], key)] for key in sorted(self._published_in.get(s, ()))]

    def _unindex(self, key: tuple[str, str], old: Counted) -> None:
        for s in old.slices():
            members = self._slices.get(s)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._slices[s]
            self._dirty.add(s)


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


# -- published records -------------------------------------------------------------------


def _comparable(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without its timestamp, for "did this cell change"."""
    return {name: value for name, value in record.items() if name != "updated_at"}


def _slice_of_record(topic: str, record: Mapping[str, Any]) -> Slice | None:
    try:
        if topic == WEEKLY_ACTIVITY:
            return topic, record["week"], record["municipality"]
        if topic == MONTHLY_HANDOVERS:
            return topic, record["month"], record["municipality"]
        if topic == WEEKLY_REFUSALS:
            return topic, record["week"], record["agency"]
    except (KeyError, TypeError):
        return None
    return None


def _reason(reason: Suppression | None) -> str | None:
    return reason.value if reason else None


class _Table:
    """A subjects table with its margins, suppressed, and the reason of every position;
    ``None`` as row or column stands for the total."""

    def __init__(self, rows: list[str], columns: list[str],
                 members: Mapping[tuple[str, str], set[str]], k: int) -> None:
        by_row: dict[str, set[str]] = {r: set() for r in rows}
        by_column: dict[str, set[str]] = {c: set() for c in columns}
        everyone: set[str] = set()
        for (r, c), subjects in members.items():
            by_row[r] |= subjects
            by_column[c] |= subjects
            everyone |= subjects
        self.table: PublishedTable = suppress(
            {cell: len(s) for cell, s in members.items()}, rows, columns, k,
            row_totals={r: len(s) for r, s in by_row.items()},
            column_totals={c: len(s) for c, s in by_column.items()},
            grand_total=len(everyone))

    def shown(self, row: str | None, column: str | None) -> tuple[int | None, str | None]:
        t = self.table
        if row is not None and column is not None:
            return t.cells[(row, column)], _reason(t.cell_reasons.get((row, column)))
        if row is not None:
            return t.row_totals[row], _reason(t.row_total_reasons.get(row))
        if column is not None:
            return t.column_totals[column], _reason(t.column_total_reasons.get(column))
        return t.grand_total, _reason(t.grand_total_reason)


def _positions(rows: Iterable[str], columns: Iterable[str]):
    rows, columns = list(rows), list(columns)
    for r in rows:
        for c in columns:
            yield r, c
    for r in rows:
        yield r, None
    for c in columns:
        yield None, c
    yield None, None


def _weekly_activity(s: Slice, facts: list[CountedEvent], previous: list[dict[str, Any]],
                     k: int) -> list[tuple[bytes, dict[str, Any]]]:
    _, week, municipality = s
    year, number = int(week[:4]), int(week[-2:])
    monday = date.fromisocalendar(year, number, 1)
    columns: dict[tuple[str, str | None], str] = {}
    for f in facts:
        columns.setdefault(f.column, f"{f.type}|{f.offer_category or ''}")
    for p in previous:
        if p["event_type"] is not None:
            column = (p["event_type"], p["offer_category"])
            columns.setdefault(column, f"{column[0]}|{column[1] or ''}")
    published_before = {(p["life_phase"], p["event_type"], p["offer_category"])
                        for p in previous}
    label_of = dict(columns)
    column_of = {label: column for column, label in columns.items()}
    members: dict[tuple[str, str], set[str]] = {}
    events: dict[tuple[str | None, str | None], int] = {}
    for f in facts:
        label = label_of[f.column]
        members.setdefault((f.life_phase, label), set()).add(f.subject)
        for position in ((f.life_phase, label), (f.life_phase, None), (None, label),
                         (None, None)):
            events[position] = events.get(position, 0) + 1
    if not columns:  # everything moved away: publish zeros where there were numbers
        return [(_activity_key(week, municipality, p), {**p, "subjects": 0, "events": 0,
                                                         "suppressed": False,
                                                         "suppression": None, "k": k})
                for p in previous if p["subjects"] != 0 or p["suppressed"]]
    labels = sorted(column_of)
    table = _Table(list(LIFE_PHASES), labels, members, k)
    out = []
    for row, label in _positions(LIFE_PHASES, labels):
        event_type, category = column_of[label] if label is not None else (None, None)
        subjects, reason = table.shown(row, label)
        if subjects == 0 and (row, event_type, category) not in published_before:
            continue  # empty and never shown: absent means zero
        record = {"week": week, "week_start": monday, "municipality": municipality,
                  "life_phase": row, "event_type": event_type, "offer_category": category,
                  "subjects": subjects,
                  "events": events.get((row, label), 0) if subjects is not None else None,
                  "suppressed": subjects is None, "suppression": reason, "k": k}
        out.append((_activity_key(week, municipality, record), record))
    return out


def _activity_key(week: str, municipality: str, record: Mapping[str, Any]) -> bytes:
    return cell_key(week, municipality, record["life_phase"], record["event_type"],
                    record["offer_category"])


def _quantiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return round(values[0], 1), round(values[0], 1)
    median = statistics.median(values)
    p90 = statistics.quantiles(values, n=10, method="inclusive")[8]
    return round(median, 1), round(p90, 1)


def _handover_values(facts: list[CountedHandover]) -> dict[str, Any]:
    answered = [f.days_to_answer for f in facts if f.days_to_answer is not None]
    completed = [f.days_to_completion for f in facts if f.days_to_completion is not None]
    median_answer, p90_answer = _quantiles(answered)
    median_completion, p90_completion = _quantiles(completed)
    return {
        "handovers": len(facts),
        "accepted": sum(f.answer == "accepted" for f in facts),
        "declined": sum(f.answer == "declined" for f in facts),
        "completed": sum(f.completed for f in facts),
        "open": sum(f.answer != "declined" and not f.completed for f in facts),
        "stalled": sum(f.stalled for f in facts),
        "bounces": sum(f.bounce for f in facts),
        "ping_pong": sum(f.ping_pong for f in facts),
        "median_days_to_answer": median_answer, "p90_days_to_answer": p90_answer,
        "median_days_to_completion": median_completion,
        "p90_days_to_completion": p90_completion,
    }


HANDOVER_VALUES = tuple(_handover_values([]))


def _monthly_handovers(s: Slice, facts: list[CountedHandover], previous: list[dict[str, Any]],
                       k: int) -> list[tuple[bytes, dict[str, Any]]]:
    _, month, municipality = s
    rows = sorted({f.from_kind for f in facts} |
                  {p["from_kind"] for p in previous if p["from_kind"] is not None})
    columns = sorted({f.to_kind for f in facts} |
                     {p["to_kind"] for p in previous if p["to_kind"] is not None})
    published_before = {(p["from_kind"], p["to_kind"]) for p in previous}
    if not rows or not columns:
        return []
    members: dict[tuple[str, str], set[str]] = {}
    for f in facts:
        members.setdefault((f.from_kind, f.to_kind), set()).add(f.subject)
    table = _Table(rows, columns, members, k)
    out = []
    for row, column in _positions(rows, columns):
        subjects, reason = table.shown(row, column)
        if subjects == 0 and (row, column) not in published_before:
            continue
        chosen = [f for f in facts if (row is None or f.from_kind == row)
                  and (column is None or f.to_kind == column)]
        values = _handover_values(chosen) if subjects is not None else \
            dict.fromkeys(HANDOVER_VALUES)
        record = {"month": month, "municipality": municipality, "from_kind": row,
                  "to_kind": column, "subjects": subjects, **values,
                  "suppressed": subjects is None, "suppression": reason, "k": k}
        out.append((cell_key(month, municipality, row, column), record))
    return out


def _weekly_refusals(s: Slice, facts: list[CountedEvent], previous: list[dict[str, Any]],
                     k: int) -> list[tuple[bytes, dict[str, Any]]]:
    _, week, agency = s
    if not facts:
        return [(cell_key(week, agency), {**p, "subjects": 0, "events": 0,
                                          "refused_no_consent": 0,
                                          "share_refused_no_consent": None,
                                          "suppressed": False, "suppression": None, "k": k})
                for p in previous]
    first = facts[0]
    subjects = len({f.subject for f in facts})
    refused = sum(f.outcome is Outcome.REFUSED_NO_CONSENT for f in facts)
    hidden = is_primary(subjects, k)
    record = {"week": week, "week_start": first.week_start, "agency": agency,
              "agency_kind": first.source_kind, "municipality": first.source_municipality,
              "subjects": None if hidden else subjects,
              "events": None if hidden else len(facts),
              "refused_no_consent": None if hidden else refused,
              "share_refused_no_consent": None if hidden else round(refused / len(facts), 3),
              "suppressed": hidden,
              "suppression": Suppression.PRIMARY.value if hidden else None, "k": k}
    return [(cell_key(week, agency), record)]
