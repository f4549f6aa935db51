"""The HTML report from a known set of analytics cells: the numbers in it, suppressed cells
shown as such, nothing loaded from outside, and it displays in a real (headless) browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from hub.analytics.aggregate import Aggregator
from hub.analytics.records import decode_record, encode_record
from hub.report.model import build_report
from hub.report.render import render
from tests.analytics.test_aggregate import event, handover_fact

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
W47 = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
W48 = W47 + timedelta(days=7)
W46 = W47 - timedelta(days=7)
W44 = W47 - timedelta(days=21)  # outside the period below
PERIOD = (date(2026, 11, 9), date(2026, 11, 30))  # weeks 46 to 48


def known_cells():
    """Kamen: 6 (+2 refused) and 7 children with a midwife visit in weeks 47 and 48, 2
    children in a day-care parenting course in week 46 (below k); handovers in November;
    refusals of the youth office. Werne has data only before the period."""
    facts = [event(n, time=W47) for n in range(6)]
    facts += [event(10 + n, time=W48) for n in range(7)]
    facts += [event(20 + n, time=W46, category="Elternkurs", source="kita-kamen-regenbogen",
                    source_kind="daycare") for n in range(2)]
    facts += [event(30 + n, time=W47, life_phase="grundschule",
                    type_="screening.completed") for n in range(8)]
    facts += [event(40 + n, time=W47, outcome="refused_no_consent") for n in range(2)]
    facts += [event(50 + n, time=W44, municipality="werne") for n in range(9)]
    facts += [handover_fact(n, municipality="kamen", requested=W47, answer="accepted",
                            answered_after=n + 1) for n in range(10)]
    facts += [handover_fact(20 + n, municipality="kamen", requested=W47,
                            stalled=["answer"], bounce=n < 2) for n in range(5)]
    facts += [handover_fact(30 + n, municipality="bergkamen", requested=W47,
                            requester_kind="school") for n in range(3)]
    aggregator = Aggregator(5)
    for fact in facts:
        assert aggregator.apply(fact)
    cells: dict[str, list] = {}
    for topic, _, record in aggregator.publish(NOW):
        cells.setdefault(topic, []).append(decode_record(topic, encode_record(topic, record)))
    return cells


class Figures(HTMLParser):
    """data-key -> (text, suppression or None) of every figure in the report."""

    def __init__(self):
        super().__init__()
        self.figures: dict[str, tuple[str, str | None]] = {}
        self._open: tuple[str, str | None] | None = None
        self._text: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "data-key" in attrs:
            self._open, self._text = (attrs["data-key"], attrs.get("data-suppressed")), []

    def handle_data(self, data):
        self.text.append(data)
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._open:
            key, why = self._open
            self.figures[key] = ("".join(self._text).strip(), why)
            self._open = None


@pytest.fixture(scope="module")
def html():
    return render(build_report(known_cells(), *PERIOD, NOW))


@pytest.fixture(scope="module")
def figures(html):
    parser = Figures()
    parser.feed(html)
    return parser.figures


def test_families_reached_per_life_phase_and_week(figures):
    assert figures["reached|kamen|2026-W47|kita"] == ("8", None)  # 6 + 2 refused
    assert figures["reached|kamen|2026-W48|kita"] == ("7", None)
    assert figures["reached|kamen|2026-W47|grundschule"] == ("8", None)
    assert figures["reached|kamen|2026-W47|all"] == ("16", None)
    assert figures["reached|kamen|2026-W47|sek1"] == ("0", None)
    assert figures["reached|kamen|2026-W46|kita"] == ("unterdrückt (< k)", "primary")


def test_offers_accepted_summed_over_the_period_and_suppressed_cells_shown_as_such(figures):
    assert figures["offers|kamen|Familienhebamme|2026-W47"] == ("8", None)
    assert figures["offers|kamen|Familienhebamme|2026-W48"] == ("7", None)
    assert figures["offers-total|kamen|Familienhebamme"] == ("15", None)
    text, why = figures["offers|kamen|Elternkurs|2026-W46"]
    assert why == "primary" and text == "unterdrückt (< k)"
    # a sum that contains a withheld value is withheld too
    assert figures["offers-total|kamen|Elternkurs"][1] == "primary"


def test_handover_times_stalls_and_bounces(figures):
    key = "handover|kamen|2026-11|daycare|youth_office"
    assert figures[f"{key}|handovers"] == ("15", None)
    assert figures[f"{key}|stalled"] == ("5", None)
    assert figures[f"{key}|bounces"] == ("2", None)
    assert figures[f"{key}|median_days_to_answer"] == ("5,5", None)
    assert figures[f"{key}|p90_days_to_answer"] == ("9,1", None)
    assert figures[f"{key}|median_days_to_completion"] == ("–", None)
    assert figures["handover|kamen|2026-11|all|all|handovers"] == ("15", None)
    assert figures["overview|kamen|stalled"] == ("5", None)
    # three children in Bergkamen: withheld, with every sum they belong to
    assert figures["handover|bergkamen|2026-11|school|youth_office|handovers"] == \
        ("unterdrückt (< k)", "primary")
    assert figures["handover|bergkamen|2026-11|school|youth_office|p90_days_to_answer"][1] \
        == "primary"
    assert figures["overview|bergkamen|handovers"][1] == "primary"


def test_refusal_rates(figures):
    assert figures["refusal|kamen|jugendamt-kamen|2026-W47"] == ("12,5 %", None)  # 2 of 16
    assert figures["refusal|kamen|jugendamt-kamen|2026-W48"] == ("0,0 %", None)
    assert figures["refusal-total|kamen|jugendamt-kamen"] == ("8,7 %", None)  # 2 of 23
    # two children only: the day-care centre's week is withheld, and so is its period
    assert figures["refusal|kamen|kita-kamen-regenbogen|2026-W46"][1] == "primary"
    assert figures["refusal-total|kamen|kita-kamen-regenbogen"][1] == "primary"
    assert figures["overview|kamen|refusal_share"][1] == "primary"


def test_only_the_period_is_shown(html, figures):
    assert not any("2026-W44" in key for key in figures)
    werne = html.split('id="town-werne"')[1].split("</section>")[0]
    assert "Keine Daten im Zeitraum" in werne
    assert "Lünen" in html and "Fröndenberg/Ruhr" in html  # every town, German names


def test_self_contained_and_free_of_pseudonyms(html):
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(link.startswith("#") for link in links), links
    assert "<link" not in html and "@import" not in html
    assert "child-" not in html and "ev-" not in html and "UE-" not in html


def test_an_empty_period_says_so():
    page = render(build_report(known_cells(), date(2020, 1, 1), date(2020, 1, 31), NOW))
    assert 'id="no-data"' in page


def test_a_reversed_period_is_refused():
    with pytest.raises(ValueError, match="before it starts"):
        build_report({}, date(2026, 12, 1), date(2026, 11, 1), NOW)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is needed to check that the report displays: install it "
                "(Debian: apt-get install chromium); .ci/run does this itself")


def test_the_report_displays_in_a_headless_browser(html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--virtual-time-budget=5000",
               f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(browser + ["--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    assert 'data-rendered="ok"' in body.group(1), body.group(1)
    charts = int(re.search(r'data-charts="(\d+)"', body.group(1)).group(1))
    assert charts >= 5
    shot = tmp_path / "report.png"
    result = subprocess.run(browser + ["--window-size=1200,2400", f"--screenshot={shot}",
                                       page.as_uri()], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and shot.stat().st_size > 20_000, result.stderr[-2000:]
