"""The aggregator: facts in, the cells analysts read out, with suppression and late
corrections (no broker)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.analytics.aggregate import Aggregator
from hub.analytics.facts import EventFact, HandoverFact, decode_fact
from hub.analytics.records import (
    MONTHLY_HANDOVERS,
    WEEKLY_ACTIVITY,
    WEEKLY_REFUSALS,
    cell_key,
    decode_record,
    encode_record,
)
from hub.analytics.suppression import PublishedTable, recoverable_cells, suppress

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # week 2026-W47
WEEK = "2026-W47"


def event(n, subject=None, *, time=MONDAY, municipality="kamen", life_phase="kita",
          type_="offer.accepted", category="Familienhebamme", source="jugendamt-kamen",
          source_kind="youth_office", outcome="routed"):
    return EventFact.from_json({
        "kind": "event", "id": f"ev-{n}", "subject": subject or f"child-{n}",
        "time": time.isoformat(), "municipality": municipality,
        "life_phase": life_phase, "type": type_,
        "offer_category": category if type_.startswith("offer.") else None,
        "source": source, "source_kind": source_kind,
        "source_municipality": "kamen", "outcome": outcome})


def handover_fact(n, subject=None, *, requested=MONDAY, municipality="werne",
                  requester_kind="daycare", recipient_kind="youth_office", answer=None,
                  answered_after=None, completed_after=None, stalled=(), bounce=False,
                  ping_pong=False):
    def at(days):
        return (requested + timedelta(days=days)).isoformat() if days is not None else None
    return HandoverFact.from_json({
        "kind": "handover", "id": f"UE-{n}", "subject": subject or f"child-{n}",
        "municipality": municipality, "requester": "a", "recipient": "b",
        "requester_kind": requester_kind, "recipient_kind": recipient_kind,
        "requested_at": requested.isoformat(), "answer": answer,
        "answered_at": at(answered_after), "completed_at": at(completed_after),
        "stalled": list(stalled), "bounce": bounce, "ping_pong": ping_pong})


def cells(published):
    """(topic, key) -> record of one publish() round, checked against the Avro schema."""
    out = {}
    for topic, key, record in published:
        assert decode_record(topic, encode_record(topic, record)) == record
        out[(topic, key)] = record
    return out


def activity(c, life_phase, event_type, category=None, week=WEEK, town="kamen"):
    return c.get((WEEKLY_ACTIVITY, cell_key(week, town, life_phase, event_type, category)))


def aggregate(*facts, k=5):
    agg = Aggregator(k)
    for fact in facts:
        assert agg.apply(fact)
    return agg


# --- weekly activity ---------------------------------------------------------------------


def test_children_and_events_per_life_phase_and_event_type_with_totals():
    agg = aggregate(*[event(n) for n in range(5)], event(99, "child-0"),  # child 0 twice
                    *[event(10 + n, type_="screening.completed") for n in range(6)])
    c = cells(agg.publish(NOW))
    offers = activity(c, "kita", "offer.accepted", "Familienhebamme")
    assert (offers["subjects"], offers["events"], offers["suppressed"]) == (5, 6, False)
    assert offers["week_start"].isoformat() == "2026-11-16"
    screenings = activity(c, "kita", "screening.completed")
    assert (screenings["subjects"], screenings["events"]) == (6, 6)
    row = activity(c, "kita", None)
    assert (row["subjects"], row["events"]) == (11, 12)
    assert activity(c, None, None)["subjects"] == 11
    assert activity(c, None, "offer.accepted", "Familienhebamme")["subjects"] == 5
    # empty life phases are not published at all: absent means zero
    assert activity(c, "grundschule", None) is None
    assert all(r["updated_at"] == NOW for r in c.values())


def test_a_repeated_fact_is_counted_once_and_publishes_nothing_new():
    agg = aggregate(*[event(n) for n in range(5)])
    first = cells(agg.publish(NOW))
    assert agg.apply(event(3))
    assert agg.publish(NOW + timedelta(seconds=2)) == []
    assert activity(first, "kita", "offer.accepted", "Familienhebamme")["events"] == 5


def test_weeks_follow_the_local_date_in_berlin():
    # Sunday 23:30 UTC is Monday 00:30 in Berlin: the next ISO week
    late_sunday = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    agg = aggregate(*[event(n, time=late_sunday) for n in range(5)])
    c = cells(agg.publish(NOW))
    assert activity(c, "kita", "offer.accepted", "Familienhebamme", week="2026-W49")
    assert not activity(c, "kita", "offer.accepted", "Familienhebamme", week="2026-W48")


def test_a_small_cell_is_suppressed_and_cannot_be_recomputed_from_the_totals():
    # kita: 3 children with an offer (below k), 6 with a screening; school-age: 7 and 8.
    # Published naively (primary suppression only), the kita row total 9 minus the
    # screening cell 6 reveals the 3 children of the offer cell.
    facts = [event(n, type_="offer.accepted") for n in range(3)]
    facts += [event(10 + n, type_="screening.completed") for n in range(6)]
    facts += [event(20 + n, life_phase="grundschule", type_="offer.accepted")
              for n in range(7)]
    facts += [event(30 + n, life_phase="grundschule", type_="screening.completed")
              for n in range(8)]
    agg = aggregate(*facts)
    c = cells(agg.publish(NOW))
    small = activity(c, "kita", "offer.accepted", "Familienhebamme")
    assert small["suppressed"] and small["suppression"] == "primary"
    assert small["subjects"] is None and small["events"] is None
    hidden_too = [r for r in c.values() if r["suppression"] == "complementary"]
    assert hidden_too and all(r["subjects"] is None for r in hidden_too)

    published = table_of(c, WEEK, "kamen")
    assert published.cells[("kita", "offer.accepted|Familienhebamme")] is None
    assert not recoverable_cells(published)

    # the same counts with primary suppression only would give the cell away
    naive = suppress(
        {(r, col): v for (r, col), v in
         {("kita", "o"): 3, ("kita", "s"): 6, ("grundschule", "o"): 7,
          ("grundschule", "s"): 8}.items()},
        ["kita", "grundschule"], ["o", "s"], 5, complementary=False)
    assert ("kita", "o") in recoverable_cells(naive)


def table_of(c, week, town) -> PublishedTable:
    """The weekly activity table of one slice, as an analyst rebuilds it from the topic."""
    records = [r for (topic, _), r in c.items() if topic == WEEKLY_ACTIVITY
               and r["week"] == week and r["municipality"] == town]

    def label(r):
        return f"{r['event_type']}|{r['offer_category'] or ''}"
    rows = tuple(sorted({r["life_phase"] for r in records if r["life_phase"]}))
    columns = tuple(sorted({label(r) for r in records if r["event_type"]}))
    by = {(r["life_phase"], label(r) if r["event_type"] else None): r["subjects"]
          for r in records}
    return PublishedTable(
        rows, columns, {(r, col): by.get((r, col), 0) for r in rows for col in columns},
        {r: by[(r, None)] for r in rows}, {col: by[(None, col)] for col in columns},
        by[(None, None)], k=5)


def test_a_late_event_republishes_only_the_cells_of_its_week():
    agg = aggregate(*[event(n) for n in range(5)],
                    *[event(50 + n, time=MONDAY + timedelta(days=7)) for n in range(5)])
    cells(agg.publish(NOW))
    # a re-imported export from the earlier week: one more child, one repeated event
    agg.apply(event(5))
    agg.apply(event(0))
    later = NOW + timedelta(days=1)
    changed = cells(agg.publish(later))
    assert {r["week"] for r in changed.values()} == {WEEK}
    cell = activity(changed, "kita", "offer.accepted", "Familienhebamme")
    assert (cell["subjects"], cell["events"], cell["updated_at"]) == (6, 6, later)
    assert activity(changed, None, None)["subjects"] == 6


def test_a_fact_that_moves_leaves_zeros_behind_not_stale_counts():
    agg = aggregate(*[event(n) for n in range(5)])
    cells(agg.publish(NOW))
    # the export is corrected: these events happened a week later
    for n in range(5):
        agg.apply(event(n, time=MONDAY + timedelta(days=7)))
    changed = cells(agg.publish(NOW + timedelta(hours=1)))
    old = activity(changed, "kita", "offer.accepted", "Familienhebamme")
    assert (old["subjects"], old["events"], old["suppressed"]) == (0, 0, False)
    new = activity(changed, "kita", "offer.accepted", "Familienhebamme", week="2026-W48")
    assert new["subjects"] == 5


def test_a_rebuilt_aggregator_publishes_only_what_changed_meanwhile():
    facts = [event(n) for n in range(6)]
    first = aggregate(*facts)
    published = first.publish(NOW)
    rebuilt = aggregate(*facts)  # a restarted worker reads the facts again
    for topic, key, record in published:
        rebuilt.seed_published(topic, key, decode_record(topic, encode_record(topic, record)))
    rebuilt.mark_all_dirty()
    assert rebuilt.publish(NOW + timedelta(hours=1)) == []
    rebuilt.remove("event", "ev-5")
    changed = cells(rebuilt.publish(NOW + timedelta(hours=2)))
    assert activity(changed, "kita", "offer.accepted", "Familienhebamme")["subjects"] == 5


def test_no_pseudonym_or_id_reaches_a_record():
    agg = aggregate(*[event(n, subject=f"pseudo{n:04d}" * 8) for n in range(7)],
                    *[handover_fact(n, subject=f"pseudo{n:04d}" * 8) for n in range(7)])
    text = json.dumps([r for _, _, r in agg.publish(NOW)], default=str)
    assert "pseudo" not in text and "ev-" not in text and "UE-" not in text


# --- monthly handovers -------------------------------------------------------------------


def monthly(c, from_kind, to_kind, month="2026-11", town="werne"):
    return c.get((MONTHLY_HANDOVERS, cell_key(month, town, from_kind, to_kind)))


def test_handover_counts_and_times_per_agency_kind_pair():
    facts = [handover_fact(n, answer="accepted", answered_after=n + 1,
                           completed_after=(30 + n if n < 4 else None)) for n in range(10)]
    facts += [handover_fact(20, answer="declined", answered_after=2),
              handover_fact(21, stalled=["answer"], bounce=True),
              handover_fact(22, stalled=["answer"], ping_pong=True)]
    c = cells(aggregate(*facts).publish(NOW))
    cell = monthly(c, "daycare", "youth_office")
    assert cell["subjects"] == 13 and not cell["suppressed"]
    assert (cell["handovers"], cell["accepted"], cell["declined"], cell["completed"]) == \
        (13, 10, 1, 4)
    assert (cell["open"], cell["stalled"], cell["bounces"], cell["ping_pong"]) == \
        (8, 2, 1, 1)
    # answers after 1..10 days and one after 2 days
    assert cell["median_days_to_answer"] == 5.0
    assert cell["p90_days_to_answer"] == 9.0
    assert cell["median_days_to_completion"] == 31.5  # 30, 31, 32, 33
    assert cell["p90_days_to_completion"] == 32.7
    assert monthly(c, None, None)["handovers"] == 13


def test_handovers_count_in_the_month_they_were_requested():
    late_october = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 1 November in Berlin
    c = cells(aggregate(*[handover_fact(n, requested=late_october) for n in range(5)])
              .publish(NOW))
    assert monthly(c, "daycare", "youth_office", month="2026-11")["handovers"] == 5
    assert monthly(c, "daycare", "youth_office", month="2026-10") is None


def test_an_answer_before_its_request_is_not_counted_until_the_request_arrives():
    fact = replace(handover_fact(1), requested_at=None, answer="accepted",
                   answered_at=MONDAY)
    agg = aggregate(fact)
    assert agg.publish(NOW) == []


def test_a_small_pair_is_suppressed_with_its_values():
    facts = [handover_fact(n) for n in range(6)]
    facts += [handover_fact(10 + n, requester_kind="school") for n in range(2)]
    facts += [handover_fact(20 + n, recipient_kind="health") for n in range(6)]
    facts += [handover_fact(30 + n, requester_kind="school", recipient_kind="health")
              for n in range(7)]
    c = cells(aggregate(*facts).publish(NOW))
    small = monthly(c, "school", "youth_office")
    assert small["suppressed"] and small["suppression"] == "primary"
    assert all(small[name] is None for name in ("subjects", "handovers", "open",
                                                "median_days_to_answer"))
    assert sum(r["suppression"] == "complementary" for r in c.values()) >= 1


# --- weekly refusals ---------------------------------------------------------------------


def refusals(c, agency="jugendamt-kamen", week=WEEK):
    return c.get((WEEKLY_REFUSALS, cell_key(week, agency)))


def test_share_of_decided_events_refused_for_missing_consent():
    facts = [event(n, outcome="routed") for n in range(6)]
    facts += [event(10 + n, outcome="refused_no_consent") for n in range(2)]
    facts += [event(20, outcome="held"), event(21, outcome="not_routed")]
    c = cells(aggregate(*facts).publish(NOW))
    cell = refusals(c)
    assert (cell["events"], cell["refused_no_consent"], cell["subjects"]) == (8, 2, 8)
    assert cell["share_refused_no_consent"] == 0.25
    assert (cell["agency_kind"], cell["municipality"]) == ("youth_office", "kamen")


def test_refusals_of_few_children_are_suppressed():
    c = cells(aggregate(*[event(n, outcome="refused_no_consent", subject="child-x")
                          for n in range(9)]).publish(NOW))
    cell = refusals(c)
    assert cell["suppressed"] and cell["suppression"] == "primary"
    assert cell["events"] is None and cell["share_refused_no_consent"] is None


def test_a_held_event_counts_once_it_is_decided():
    agg = aggregate(*[event(n, outcome="held") for n in range(5)])
    assert refusals(cells(agg.publish(NOW))) is None
    for n in range(5):
        agg.apply(event(n, outcome="refused_no_consent"))
    cell = refusals(cells(agg.publish(NOW)))
    assert (cell["events"], cell["share_refused_no_consent"]) == (5, 1.0)


# --- bad facts ---------------------------------------------------------------------------


@pytest.mark.parametrize("broken", [
    None, [], "text", {"kind": "other", "id": "x"},
    {k: v for k, v in event(1).to_json().items() if k != "subject"},
    event(1).to_json() | {"municipality": "atlantis"},
    event(1).to_json() | {"life_phase": "adult"},
    event(1).to_json() | {"time": "2026-11-16T09:00:00"},  # no time zone
    event(1).to_json() | {"time": "yesterday"},
    event(1).to_json() | {"outcome": "maybe"},
    handover_fact(1).to_json() | {"answer": "perhaps"},
    handover_fact(1).to_json() | {"stalled": "answer"},
    handover_fact(1).to_json() | {"requested_at": 12},
])
def test_a_malformed_fact_is_refused_and_changes_nothing(broken):
    agg = aggregate(*[event(n) for n in range(5)])
    before = agg.publish(NOW)
    assert decode_fact(json.dumps(broken).encode()) is None  # the agent dead-letters it
    assert agg.publish(NOW) == [] and before
