"""What the report shows, computed from the analytics cells (pure, no Kafka, no HTML).

The input is the latest record of every cell of the three analytics topics (as decoded by
:func:`hub.analytics.records.decode_record`). The report never un-suppresses anything: a
suppressed cell stays a :class:`Shown` with its reason, and a sum over several cells (the
accepted offers of a quarter, the handovers of several months) is only formed from additive
counts (events, handovers) and is itself withheld when one of its parts is. Children are
never summed across weeks: the same child may be counted in several weeks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hub.analytics.records import MONTHLY_HANDOVERS, WEEKLY_ACTIVITY, WEEKLY_REFUSALS
from hub.contract.vocabulary import LifePhase, Municipality

HANDOVER_COUNTS = ("handovers", "accepted", "declined", "completed", "open", "stalled",
                   "bounces", "ping_pong")
HANDOVER_TIMES = ("median_days_to_answer", "p90_days_to_answer", "median_days_to_completion",
                  "p90_days_to_completion")


@dataclass(frozen=True)
class Shown:
    """A value as the report may show it: a number, or withheld with its reason."""

    value: float | int | None
    suppression: str | None = None  # primary | complementary

    @property
    def suppressed(self) -> bool:
        return self.suppression is not None

    @classmethod
    def of(cls, record: Mapping[str, Any] | None, name: str, absent: float | int | None = 0
           ) -> Shown:
        """The value ``name`` of a cell; a cell that was never published counts ``absent``
        (zero for counts: the aggregator leaves empty cells out)."""
        if record is None:
            return cls(absent)
        if record.get("suppressed"):
            return cls(None, record.get("suppression") or "primary")
        return cls(record.get(name))


def total(values: Iterable[Shown]) -> Shown:
    """The sum of additive counts; withheld when any part is."""
    result = 0
    for v in values:
        if v.suppressed:
            return Shown(None, v.suppression)
        result += v.value or 0
    return Shown(result)


@dataclass(frozen=True)
class OfferRow:
    category: str
    children: dict[str, Shown]  # week -> distinct children that week
    offers: dict[str, Shown]  # week -> accepted offers (events) that week
    offers_total: Shown


@dataclass(frozen=True)
class HandoverRow:
    month: str
    from_kind: str | None  # None: all kinds
    to_kind: str | None
    values: dict[str, Shown]


@dataclass(frozen=True)
class RefusalRow:
    agency: str
    agency_kind: str
    shares: dict[str, Shown]  # week -> share refused for missing consent
    events: dict[str, Shown]
    share_total: Shown  # over the whole period, from additive counts


@dataclass
class Section:
    municipality: str
    reached: dict[tuple[str | None, str], Shown] = field(default_factory=dict)
    """(life phase or None for all, week) -> distinct children."""
    offers: list[OfferRow] = field(default_factory=list)
    handovers: list[HandoverRow] = field(default_factory=list)
    refusals: list[RefusalRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.reached or self.offers or self.handovers or self.refusals)

    def period_handovers(self, name: str) -> Shown:
        """A count of all handovers requested in the period (sum of the monthly totals)."""
        return total(row.values[name] for row in self.handovers
                     if row.from_kind is None and row.to_kind is None)

    def refusal_share(self) -> Shown:
        """Share refused for missing consent over all agencies sitting here, the period."""
        return _share(self.refusals_raw)

    refusals_raw: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    start: date
    end: date
    weeks: list[str]
    months: list[str]
    k: int | None
    sections: list[Section]
    generated_at: datetime
    cells_read: int = 0

    @property
    def has_data(self) -> bool:
        return any(not s.empty for s in self.sections)


def _share(records: Iterable[Mapping[str, Any]]) -> Shown:
    events = refused = 0
    for r in records:
        if r.get("suppressed"):
            return Shown(None, r.get("suppression") or "primary")
        events += r.get("events") or 0
        refused += r.get("refused_no_consent") or 0
    return Shown(round(refused / events, 3) if events else None)


def _week_overlaps(record: Mapping[str, Any], start: date, end: date) -> bool:
    monday = record["week_start"]
    return monday <= end and monday + timedelta(days=6) >= start


def _month_overlaps(month: str, start: date, end: date) -> bool:
    year, number = (int(p) for p in month.split("-"))
    first = date(year, number, 1)
    last = (date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1))
    return first <= end and last >= start


def build_report(cells: Mapping[str, Iterable[Mapping[str, Any]]], start: date, end: date,
                 generated_at: datetime) -> Report:
    """The report of ``start``..``end`` (inclusive) from the latest analytics cells."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    activity = [r for r in cells.get(WEEKLY_ACTIVITY, ()) if _week_overlaps(r, start, end)]
    handovers = [r for r in cells.get(MONTHLY_HANDOVERS, ())
                 if _month_overlaps(r["month"], start, end)]
    refusals = [r for r in cells.get(WEEKLY_REFUSALS, ()) if _week_overlaps(r, start, end)]
    weeks = sorted({r["week"] for r in activity} | {r["week"] for r in refusals})
    months = sorted({r["month"] for r in handovers})
    ks = {r["k"] for r in activity + handovers + refusals}
    sections = [_section(m.value, weeks, months, activity, handovers, refusals)
                for m in Municipality]
    sections.sort(key=lambda s: s.municipality)
    return Report(start, end, weeks, months, max(ks) if ks else None, sections, generated_at,
                  cells_read=len(activity) + len(handovers) + len(refusals))


def _section(town: str, weeks: list[str], months: list[str], activity, handovers,
             refusals) -> Section:
    section = Section(town)
    mine = [r for r in activity if r["municipality"] == town]
    by_key = {(r["week"], r["life_phase"], r["event_type"], r["offer_category"]): r
              for r in mine}
    town_weeks = [w for w in weeks if any(r["week"] == w for r in mine)]
    for w in town_weeks:
        for phase in [p.value for p in LifePhase] + [None]:
            section.reached[(phase, w)] = Shown.of(by_key.get((w, phase, None, None)),
                                                   "subjects")
    categories = sorted({r["offer_category"] for r in mine
                         if r["event_type"] == "offer.accepted" and r["life_phase"] is None})
    for category in categories:
        column = {w: by_key.get((w, None, "offer.accepted", category)) for w in town_weeks}
        offers = {w: Shown.of(r, "events") for w, r in column.items()}
        section.offers.append(OfferRow(
            category, {w: Shown.of(r, "subjects") for w, r in column.items()}, offers,
            total(offers.values())))
    for month in months:
        rows = [r for r in handovers if r["municipality"] == town and r["month"] == month]
        rows.sort(key=lambda r: (r["from_kind"] is not None, r["from_kind"] or "",
                                 r["to_kind"] is not None, r["to_kind"] or ""))
        for r in rows:
            values = {name: Shown.of(r, name) for name in ("subjects",) + HANDOVER_COUNTS}
            values.update({name: Shown.of(r, name, None) for name in HANDOVER_TIMES})
            section.handovers.append(HandoverRow(month, r["from_kind"], r["to_kind"],
                                                 values))
    agencies = sorted({r["agency"] for r in refusals if r["municipality"] == town})
    for agency in agencies:
        rows = {r["week"]: r for r in refusals if r["agency"] == agency}
        section.refusals_raw.extend(rows.values())
        section.refusals.append(RefusalRow(
            agency, next(iter(rows.values()))["agency_kind"],
            {w: Shown.of(r, "share_refused_no_consent", None) for w, r in rows.items()},
            {w: Shown.of(r, "events") for w, r in rows.items()},
            _share(rows.values())))
    return section
