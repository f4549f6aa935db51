"""Rendering inbox events as CSV in the agencies' German vocabulary (no Kafka, no files)."""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from fastavro import schemaless_writer

from connectors.delivery.csvfile import (
    COLUMNS,
    ENVELOPE_COLUMNS,
    PAYLOAD_COLUMNS,
    cell_text,
    envelope_row,
    neutralise_formula,
    render_csv,
)
from connectors.ingest import convert_file
from connectors.vocabulary import EVENT_WORDS
from hub.agencies import load_agencies
from hub.contract.codec import MAGIC, get_codec
from hub.contract.models import PAYLOAD_MODELS, Envelope
from hub.contract.schemas import load_envelope_schema
from hub.contract.vocabulary import EventType, TimePrecision
from hub.paths import SCHEMAS_DIR
from tests.contract.examples import example_envelope
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row


def test_every_payload_field_of_every_event_type_has_a_column():
    fields = {name for model in PAYLOAD_MODELS.values() for name in model.model_fields}
    assert fields == set(PAYLOAD_COLUMNS)
    assert len(set(COLUMNS)) == len(COLUMNS)  # no column twice


def test_every_envelope_field_but_the_schema_version_has_a_column():
    row = envelope_row(example_envelope(EventType.HANDOVER_REQUESTED, with_optional=True))
    envelope_fields = set(Envelope.model_fields) - {"payload", "schema_version"}
    # a new envelope field needs a column: 12 fields, the time and its precision in two
    # (Datum, Uhrzeit: empty when only the day is known)
    assert len(envelope_fields) == 12 and len(ENVELOPE_COLUMNS) == 12
    assert all(row[column] for column in ENVELOPE_COLUMNS)
    day = envelope_row(example_envelope(EventType.HANDOVER_REQUESTED, with_optional=True,
                                        time=datetime(2025, 3, 3, tzinfo=UTC),
                                        time_precision="date"))
    assert [c for c in ENVELOPE_COLUMNS if not day[c]] == ["Uhrzeit"]


@pytest.mark.parametrize("event_type", list(EventType))
def test_each_event_type_in_german_with_its_payload(event_type):
    envelope = example_envelope(event_type, with_optional=True)
    row = envelope_row(envelope)
    assert set(row) == set(COLUMNS)
    assert row["Ereignis"] == EVENT_WORDS[event_type.value]
    assert row["Ereignis-ID"] == envelope.id
    for field in type(envelope.payload).model_fields:
        assert row[PAYLOAD_COLUMNS[field][0]], f"{field} of {event_type} is empty"
    other = set(PAYLOAD_COLUMNS) - set(type(envelope.payload).model_fields)
    assert all(row[PAYLOAD_COLUMNS[f][0]] == "" for f in other)


def test_common_columns_use_the_agencies_words():
    row = envelope_row(example_envelope(
        EventType.HANDOVER_REQUESTED, with_optional=True, municipality="froendenberg",
        purpose="uebergang_kita_schule", recipient="grundschule-kamen-mitte"))
    assert row["Ereignis"] == "Übergabe angefragt"
    assert row["Gemeinde"] == "Fröndenberg"
    assert row["Zweck"] == "Übergang Kita-Schule"
    assert row["Absender"] == "jugendamt-kamen"
    assert row["Empfaenger"] == "grundschule-kamen-mitte"
    assert row["Lebensphase"] == "kita"  # no German table for life phases: the value itself
    assert row["Uebergabe-ID"] == "UE-7781"
    assert row["Korrelations-ID"] == "UE-7781"


def test_screening_words_and_unknown_values_as_they_are():
    row = envelope_row(example_envelope(EventType.SCREENING_COMPLETED, payload={
        "screening_kind": "schuleingangsuntersuchung",
        "support_category": "foerderbedarf_sozial_emotional"}))
    assert row["Untersuchung"] == "Schuleingangsuntersuchung"
    assert row["Ergebnis"] == "Förderbedarf sozial-emotional"
    row = envelope_row(example_envelope(EventType.SCREENING_COMPLETED, payload={
        "screening_kind": "u9_untersuchung", "support_category": "neu_und_unbekannt"}))
    assert (row["Untersuchung"], row["Ergebnis"]) == ("u9_untersuchung", "neu_und_unbekannt")


def test_consent_columns():
    row = envelope_row(example_envelope(EventType.CONSENT_REVOKED, with_optional=True))
    assert row["Einwilligungs-ID"] == "EV-2025-0042"
    assert row["Einwilligung-Empfaenger"] == "gesundheitsamt-unna,kita-traeger-kamen"
    assert (row["Gueltig-ab"], row["Gueltig-bis"]) == ("01.03.2025", "28.02.2026")
    assert row["Erfasst-am"] == "03.03.2025 09:15:00"  # 08:15 UTC is 09:15 in winter
    assert row["Wirksam-ab"] == "01.06.2025 02:00:00"  # midnight UTC is 02:00 in summer
    without_end = envelope_row(example_envelope(EventType.CONSENT_GRANTED))
    assert without_end["Gueltig-bis"] == "" and without_end["Wirksam-ab"] == ""


def test_stalled_handover_columns():
    row = envelope_row(example_envelope(EventType.HANDOVER_STALLED))
    assert row["Angefragt-von"] == "jugendamt-kamen"
    assert row["Wartet-auf"] == "answer"
    assert row["Frist"] == "18.03.2025 00:00:00"


@pytest.mark.parametrize(("utc", "datum", "uhrzeit"), [
    (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "01.01.2026", "00:30:00"),   # winter, +1
    (datetime(2026, 6, 30, 22, 15, tzinfo=UTC), "01.07.2026", "00:15:00"),    # summer, +2
    (datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), "29.03.2026", "01:59:59"),  # before DST
    (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "29.03.2026", "03:00:00"),       # after DST
])
def test_datum_is_the_local_date_in_kreis_unna(utc, datum, uhrzeit):
    row = envelope_row(example_envelope(time=utc))
    assert (row["Datum"], row["Uhrzeit"]) == (datum, uhrzeit)


def test_cell_text():
    assert cell_text(None) == ""
    assert cell_text(date(2026, 1, 2)) == "02.01.2026"
    assert cell_text(("a", "b")) == "a,b"
    assert cell_text(EventType.OFFER_MADE, EVENT_WORDS) == "Angebot unterbreitet"
    assert cell_text("x", {"y": "Y"}) == "x"


@pytest.mark.parametrize(("text", "written"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("Familienhebamme", "Familienhebamme"), ("", ""), ("UE-1", "UE-1"),
])
def test_cells_that_a_spreadsheet_would_run_are_neutralised(text, written):
    assert neutralise_formula(text) == written


def test_file_content_header_separator_line_ends_and_encoding():
    events = [example_envelope(EventType.HANDOVER_REQUESTED, with_optional=True),
              example_envelope(EventType.OFFER_MADE, payload={"offer_category": "=1+1"})]
    content = render_csv(events)
    text = content.decode("utf-8")  # UTF-8, no byte order mark
    assert not content.startswith(b"\xef\xbb\xbf")
    lines = text.split("\r\n")
    assert lines[0] == ";".join(COLUMNS)
    assert lines[-1] == "" and len(lines) == 4
    assert "Übergabe angefragt".encode() in content
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert [r["Ereignis-ID"] for r in rows] == [e.id for e in events]
    assert rows[1]["Angebot"] == "'=1+1"


def test_values_with_separators_and_quotes_survive():
    envelope = example_envelope(EventType.OFFER_MADE,
                                payload={"offer_category": 'Kurs "Eltern; Kind"'})
    rows = list(csv.DictReader(io.StringIO(render_csv([envelope]).decode(), newline=""),
                               delimiter=";"))
    assert rows[0]["Angebot"] == 'Kurs "Eltern; Kind"'


def test_an_empty_batch_is_a_header_only():
    assert render_csv([]) == (";".join(COLUMNS) + "\r\n").encode()


# ------------------------------------------------------------ a date is not a time of day
def exported(tmp_path, pseudonym_key, rows, name="jugendamt-kamen_export.csv", **kwargs):
    """The events an agency export with ``rows`` becomes (as ``hub ingest`` reads it)."""
    path = write_export(tmp_path / name, rows, **kwargs)
    result = convert_file(path, load_agencies(), pseudonym_key)
    assert not result.rejected
    return result.events


def old_release_message(number: int, envelope: Envelope) -> bytes:
    """``envelope`` as a producer on release ``number`` (no ``time_precision``) wrote it."""
    schema = load_envelope_schema(SCHEMAS_DIR / "released" / str(number))
    record = envelope.model_dump(exclude={"time_precision"})
    record.update(type=envelope.type.value.replace(".", "_"), schema_version=number,
                  payload=(f"unna.hub.{type(envelope.payload).__name__}", record["payload"]))
    body = io.BytesIO()
    body.write(MAGIC + schema.fingerprint)
    schemaless_writer(body, schema.parsed, record)
    return body.getvalue()


@pytest.mark.parametrize(("datum", "expected"), [
    ("16.09.2026", "16.09.2026"),  # summer time: midnight UTC would read 02:00:00
    ("16.12.2026", "16.12.2026"),  # winter time: 01:00:00
    ("29.03.2026", "29.03.2026"),  # the night summer time starts
    ("31.12.2026", "31.12.2026"),  # the day before a new year (and month) in UTC and locally
])
def test_an_export_row_has_its_date_and_no_time_of_day(tmp_path, pseudonym_key, datum,
                                                        expected):
    (event,) = exported(tmp_path, pseudonym_key, [youth_office_row(Datum=datum)])
    assert event.time_precision is TimePrecision.DATE
    assert event.time == datetime.strptime(datum, "%d.%m.%Y").replace(tzinfo=UTC)
    row = envelope_row(event)
    assert (row["Datum"], row["Uhrzeit"]) == (expected, "")
    delivered = next(csv.DictReader(io.StringIO(render_csv([event]).decode(), newline=""),
                                    delimiter=";"))
    assert (delivered["Datum"], delivered["Uhrzeit"]) == (expected, "")


def test_a_date_only_event_survives_the_codec_and_keeps_its_date(tmp_path, pseudonym_key):
    (event,) = exported(tmp_path, pseudonym_key, [youth_office_row(Datum="30.06.2026")])
    decoded = get_codec().decode(get_codec().encode(event))
    assert decoded.time_precision is TimePrecision.DATE and decoded.schema_version == 3
    assert (envelope_row(decoded)["Datum"], envelope_row(decoded)["Uhrzeit"]) == (
        "30.06.2026", "")


def test_a_consent_from_an_export_has_dates_not_times(tmp_path, pseudonym_key):
    rows = [consent_row(Status="widerrufen", Erfasst_am="20.07.2026")]
    (event,) = exported(tmp_path, pseudonym_key, rows, name="einwilligungen_jugendamt-kamen.csv",
                        columns=CONSENT_COLUMNS)
    assert event.type is EventType.CONSENT_REVOKED
    assert event.time_precision is TimePrecision.DATE
    row = envelope_row(event)
    assert (row["Datum"], row["Uhrzeit"]) == ("20.07.2026", "")
    assert (row["Erfasst-am"], row["Wirksam-ab"]) == ("20.07.2026", "20.07.2026")


def test_the_hubs_own_notices_keep_their_time_of_day():
    notice = example_envelope(EventType.HANDOVER_STALLED, source="hub",
                              time=datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    assert notice.time_precision is TimePrecision.INSTANT  # the default
    row = envelope_row(notice)
    # a point in time at midnight UTC is a point in time: 02:00 in Kreis Unna in summer
    assert (row["Datum"], row["Uhrzeit"]) == ("01.07.2026", "02:00:00")
    assert row["Frist"] == "18.03.2025 00:00:00"


def test_a_payload_time_other_than_the_day_of_a_date_only_event_keeps_its_time():
    event = example_envelope(EventType.CONSENT_REVOKED, time=datetime(2025, 6, 1, tzinfo=UTC),
                             time_precision="date")
    row = envelope_row(event)
    assert (row["Datum"], row["Uhrzeit"]) == ("01.06.2025", "")
    assert row["Wirksam-ab"] == "01.06.2025"             # the same day as the event
    assert row["Erfasst-am"] == "03.03.2025 09:15:00"    # a point in time of its own


@pytest.mark.parametrize("release", [1, 2])
def test_events_of_earlier_releases_show_as_before(release):
    """A message of release 1 or 2 says nothing about the precision: read as an instant,
    it shows the time of day it always showed."""
    written = example_envelope(EventType.CONSENT_REVOKED, with_optional=True,
                               time=datetime(2025, 6, 1, tzinfo=UTC))
    decoded = get_codec().decode(old_release_message(release, written))
    assert decoded.time_precision is TimePrecision.INSTANT
    assert decoded.schema_version == release
    row = envelope_row(decoded)
    assert (row["Datum"], row["Uhrzeit"]) == ("01.06.2025", "02:00:00")
    assert row["Wirksam-ab"] == "01.06.2025 02:00:00"
