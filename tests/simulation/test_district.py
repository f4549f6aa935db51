"""The simulated district of `hub demo`: deterministic, in the agencies' real formats, and
with the frictions the hub is there to show."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime

import pytest

from connectors.ingest import convert_file
from hub.agencies import load_agencies
from hub.simulation.district import DistrictSimulation

START = date(2026, 9, 7)
DAYS = 84


def simulation(seed: int = 1, families: int = 400) -> DistrictSimulation:
    return DistrictSimulation(load_agencies(), seed, families, START)


def all_exports(sim, days=DAYS):
    return {day: sim.exports(day) for day in range(days)}


@pytest.fixture(scope="module")
def district():
    return all_exports(simulation())


@pytest.fixture(scope="module")
def converted(district, tmp_path_factory, pseudonym_key):
    """Every export of twelve weeks through the real connectors."""
    folder = tmp_path_factory.mktemp("exports")
    out = []
    for day, exports in district.items():
        for export in exports:
            path = folder / str(day) / export.file_name
            path.parent.mkdir(exist_ok=True)
            path.write_text(export.csv_text(), encoding="utf-8")
            out.append((day, export, convert_file(path, load_agencies(), pseudonym_key)))
    return out


def test_the_same_seed_gives_the_same_exports_and_another_seed_others():
    first, again = all_exports(simulation(7), 30), all_exports(simulation(7), 30)
    assert first == again
    assert sum(len(e.rows) for exports in first.values() for e in exports) > 200
    assert all_exports(simulation(8), 30) != first


def test_a_day_is_the_same_whether_the_days_before_it_were_run_or_not():
    """A demo that goes on where it stopped publishes what one run would have."""
    walked = simulation(3)
    for day in range(40):
        walked.exports(day)
    assert simulation(3).exports(40) == walked.exports(40)


def test_every_row_is_read_by_the_connectors_except_the_broken_ones(converted):
    broken = sum(export.broken for _, export, _ in converted)
    rejected = [r for _, _, c in converted for r in c.rejected]
    assert broken > 5 and len(rejected) == broken
    problems = " ".join(p for r in rejected for p in r.problems)
    assert "not a date" in problems and "not a known town" in problems
    events = sum(len(c.events) for _, _, c in converted)
    rows = sum(len(e.rows) for _, e, _ in converted)
    assert events + broken + sum(c.duplicates for _, _, c in converted) == rows


def test_broken_rows_come_again_corrected_the_next_day(district):
    def record(row):
        return next(row[c] for c in ("Vorgangsnummer", "Schüler-ID", "Untersuchungs-Nr",
                                     "BG-Nummer") if c in row)
    corrected = 0
    for day, exports in district.items():
        for export in exports:
            if not export.broken or day + 1 >= DAYS:
                continue
            broken = [r for r in export.rows if "Dortmund" in r.values() or r["Datum"] in
                      ("", f"31.02.{r['Datum'][-4:]}") or "Übergabe vielleicht" in r.values()]
            tomorrow = [r for e in district[day + 1] if e.file_name == export.file_name
                        for r in e.rows]
            for row in broken:
                again = [r for r in tomorrow if record(r) == record(row)
                         and r.get("Ereignis", r.get("Art")) != "Übergabe vielleicht"]
                corrected += bool(again)
    assert corrected > 5


def test_the_district_has_the_frictions_the_hub_shows(converted):
    events = [(day, e) for day, _, c in converted for e in c.events]
    by_type = Counter(e.type.value for _, e in events)
    for etype in ("consent.granted", "consent.revoked", "offer.made", "offer.accepted",
                  "offer.declined", "offer.completed", "handover.requested",
                  "handover.accepted", "handover.declined", "handover.completed",
                  "screening.completed"):
        assert by_type[etype] > 0, etype
    # every kind of agency exports, in its own format
    agencies = {e.source for _, e in events}
    assert {"jobcenter-kreis-unna", "gesundheitsamt-kreis-unna", "grundschule-kamen-mitte",
            "kita-kamen-regenbogen", "kreisjugendamt-unna"} <= agencies
    assert len({e.municipality.value for _, e in events}) == 9
    assert len({e.life_phase.value for _, e in events}) == 6

    handovers = defaultdict(dict)
    for _, e in events:
        if e.type.value.startswith("handover."):
            handovers[e.correlation_id][e.type.value] = e
    requested = {h: s for h, s in handovers.items() if "handover.requested" in s}
    never = [h for h, s in requested.items() if len(s) == 1]
    late = [h for h, s in requested.items() if "handover.accepted" in s and
            (s["handover.accepted"].time - s["handover.requested"].time).days > 14]
    assert len(never) > 10 and len(late) > 10  # stall notices to come
    # a decline, then the same agency asks another one for the same child: a bounce
    declined = [s["handover.requested"] for s in requested.values() if "handover.declined" in s]
    bounces = [d for d in declined if any(
        s["handover.requested"].subject == d.subject and s["handover.requested"].source
        == d.source and s["handover.requested"].recipient != d.recipient
        for s in requested.values())]
    assert bounces
    # three handovers of one child between the same two agencies: ping-pong
    pairs = Counter((s["handover.requested"].subject,
                     frozenset((s["handover.requested"].source,
                                s["handover.requested"].recipient)))
                    for s in requested.values())
    assert max(pairs.values()) >= 3

    # families without a consent, and consents signed days after the first contact
    consented = {e.subject for _, e in events if e.type.value == "consent.granted"}
    shared = {e.subject for _, e in events if e.type.value == "offer.accepted"
              and e.purpose.value != "statistik"}
    assert shared - consented
    first_seen: dict[str, datetime] = {}
    for _, e in sorted(events, key=lambda de: de[1].time):
        first_seen.setdefault(e.subject, e.time)
    assert any((e.time - first_seen[e.subject]).days >= 2 for _, e in events
               if e.type.value == "consent.granted")


def test_exports_come_late_and_rows_are_sent_again(converted):
    assert sum(export.late_by > 0 for _, export, _ in converted) >= 5
    assert sum(export.resent for _, export, _ in converted) >= 20
    # a late export carries rows of its own, earlier day
    late = next(export for _, export, _ in converted if export.late_by)
    assert late.late_by >= 3
