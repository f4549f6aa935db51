"""`hub report` on the real broker: events go through the worker into the analytics topics,
and the report written from them shows their numbers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from hub.analytics.records import WEEKLY_ACTIVITY, cell_key, iso_week
from tests.handover.flow import offer, subject_of
from tests.integration.test_handovers import latest, send
from tests.report.test_report import Figures
from tests.support.clock import hub_now
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka


def test_the_report_shows_what_the_worker_aggregated(worker, tmp_path):
    env = worker.env
    town, agency = "holzwickede", "kreisjugendamt-unna"
    run = uuid.uuid4().hex[:4]
    big, medium, small = (f"Sprachförderung {run}", f"Babyschwimmen {run}",
                          f"Elternkurs {run}")
    # a week of last year in a town no other test uses: the table of that week holds only
    # these offers, so which cells the complementary suppression withholds is known
    day = hub_now() - timedelta(days=400)
    week, monday = iso_week(day.date())
    send(env.bootstrap,
         *[offer(agency, subject_of(f"report-{run}-b{n}"), day, big, town) for n in range(9)],
         *[offer(agency, subject_of(f"report-{run}-m{n}"), day, medium, town)
           for n in range(5)],
         *[offer(agency, subject_of(f"report-{run}-s{n}"), day, small, town)
           for n in range(2)])

    def published():
        cells = latest(env.bootstrap, WEEKLY_ACTIVITY)
        return all(cell_key(week, town, None, "offer.accepted", c) in cells
                   for c in (big, medium, small))
    wait_for(published, 120, "the weekly cells of the report's offers")

    out = tmp_path / "bericht.html"
    result = env.hub("report", "--from", monday.isoformat(),
                     "--to", (monday + timedelta(days=6)).isoformat(), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"wrote {out}" in result.stderr
    parser = Figures()
    parser.feed(out.read_text(encoding="utf-8"))
    assert parser.figures[f"offers|{town}|{big}|{week}"] == ("9", None)
    assert parser.figures[f"offers-total|{town}|{big}"] == ("9", None)
    assert parser.figures[f"reached|{town}|{week}|kita"] == ("16", None)
    assert parser.figures[f"offers|{town}|{small}|{week}"] == ("unterdrückt (< k)",
                                                              "primary")
    # 5 children are enough, but the cell hides the 2 from the row and column totals
    assert parser.figures[f"offers|{town}|{medium}|{week}"] == ("unterdrückt (Schutz)",
                                                               "complementary")

    bad = env.hub("report", "--from", "2026-13-01", "--to", "2026-12-31")
    assert bad.returncode == 2 and "not a date" in bad.stderr
