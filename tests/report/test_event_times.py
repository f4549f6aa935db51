"""A date is not a time: the audit trail, ``hub audit`` and the access letter show an event
known only by its day (``time_precision`` ``date``) without a time of day, the hub's own
notices with theirs, and records written before the field existed as before."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.audit import DELIVERED, audit_record
from hub.operator_views import event_when, format_history
from hub.report.letter import when
from tests.contract.examples import example_envelope
from tests.report.test_letter import CHILD, letter, record, rows

NOW = datetime(2026, 7, 1, 10, 15, tzinfo=UTC)
DAY = datetime(2026, 7, 1, tzinfo=UTC)  # midnight UTC: 02:00 in Kreis Unna in summer


def audit_of(**overrides) -> dict:
    envelope = example_envelope(subject=CHILD, **overrides)
    return audit_record(envelope, DELIVERED, NOW, "grundschule-kamen-mitte", consent_id="EW-1")


def test_the_audit_record_carries_the_events_precision():
    assert audit_of(time=DAY, time_precision="date")["event_time_precision"] == "date"
    assert audit_of(time=DAY)["event_time_precision"] == "instant"
    assert audit_of(time=DAY, time_precision="date")["event_time"] == "2026-07-01T00:00:00+00:00"


def test_hub_audit_shows_the_day_of_a_date_only_event_and_the_time_of_an_instant():
    day_only = audit_of(time=DAY, time_precision="date")
    notice = audit_of(time=datetime(2026, 7, 1, 0, 0, tzinfo=UTC), source="hub")
    assert event_when(day_only) == "2026-07-01" + " " * 9
    assert event_when(notice) == "2026-07-01T00:00:00"
    date_line, notice_line = format_history([day_only, notice])
    assert date_line.startswith("2026-07-01T10:15:00  2026-07-01           offer.accepted")
    assert "T00:00" not in date_line and "02:00" not in date_line
    assert notice_line.startswith("2026-07-01T10:15:00  2026-07-01T00:00:00  offer.accepted")
    # the columns after the event's time stay aligned
    assert date_line.index("offer.accepted") == notice_line.index("offer.accepted")


def test_hub_audit_shows_records_without_the_field_as_before():
    old = audit_of(time=DAY)
    del old["event_time_precision"]  # written before release 3
    (line,) = format_history([old])
    assert line.startswith("2026-07-01T10:15:00  2026-07-01 ")
    assert "T00:00:00" not in line.split("offer.accepted")[0][20:]


def test_the_letter_shows_a_date_only_event_by_its_day():
    assert when("2026-07-01T00:00:00+00:00", "date") == "01.07.2026"
    assert when("2026-07-01T00:00:00+00:00", "instant") == "01.07.2026, 02:00 Uhr"
    assert when("2026-07-01T00:00:00+00:00") == "01.07.2026"  # older records: as before
    day_only = record(1, "delivered", consent_id="EW-KS-7",
                      event_time="2026-07-01T00:00:00+00:00")
    day_only["event_time_precision"] = "date"
    notice = record(2, "delivered", type="handover.stalled", sender="hub", consent_id="EW-KS-7",
                    event_time="2026-07-01T00:00:00+00:00", time="2026-07-01T10:15:00+00:00")
    notice["event_time_precision"] = "instant"
    shown = rows(letter([day_only, notice]), "uebermittlungen")
    assert len(shown) == 2
    assert any("| Übergabe angefragt | 01.07.2026 | Jugendamt" in row for row in shown)
    assert any("| Übergabe stockt | 01.07.2026, 02:00 Uhr | Datendrehscheibe" in row
               for row in shown)
