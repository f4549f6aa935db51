"""The cells of one slice, computed from its facts (pure, no Kafka): the weekly activity
table of a week and town, the monthly handovers table of a month and town, the weekly
refusals of a week and agency, each with suppression (:mod:`hub.analytics.suppression`).

:func:`cells_of` is given the slice's facts in key order and the cells published for it
before (in key order): a position published before and empty now is published as zero, so
that the compacted topic never keeps a stale count. See :mod:`hub.analytics.aggregate`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from hub.analytics.counted import Counted, CountedEvent, CountedHandover, Slice
from hub.analytics.facts import Outcome
from hub.analytics.records import MONTHLY_HANDOVERS, WEEKLY_ACTIVITY, cell_key
from hub.analytics.suppression import PublishedTable, Suppression, is_primary, suppress
from hub.contract.vocabulary import LifePhase

__all__ = ["cells_of"]

LIFE_PHASES = tuple(p.value for p in LifePhase)


def cells_of(s: Slice, facts: list[Counted], previous: list[dict[str, Any]],
             k: int) -> list[tuple[bytes, dict[str, Any]]]:
    """The cells of slice ``s`` as ``(key, record without updated_at)``: every position
    that has a value or was published before (``previous``: those records, without
    ``updated_at``)."""
    topic = s[0]
    if topic == WEEKLY_ACTIVITY:
        return _weekly_activity(s, facts, previous, k)
    if topic == MONTHLY_HANDOVERS:
        return _monthly_handovers(s, facts, previous, k)
    return _weekly_refusals(s, facts, previous, k)


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
