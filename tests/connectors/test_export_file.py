"""Exports as agencies really produce them are read; unreadable files fail as a whole."""

import pytest

from connectors.export_file import agency_from_filename, open_export
from hub.errors import InputError
from tests.exports import YOUTH_OFFICE_COLUMNS, write_export, youth_office_row


def read_export(path, required, encoding=None):
    export = open_export(path, required, encoding)
    return export, list(export.rows())


def test_utf8_with_bom_and_trailing_empty_lines(tmp_path):
    path = write_export(tmp_path / "x.csv", [youth_office_row(Nachname="Schröder")],
                        encoding="utf-8-sig")
    path.write_bytes(path.read_bytes() + b"\n\n;;\n")
    export, rows = read_export(path, YOUTH_OFFICE_COLUMNS)
    assert export.columns[0] == "Vorgangsnummer"  # BOM stripped
    assert [r.get("Nachname") for r in rows] == ["Schröder"]


def test_windows_1252_is_detected(tmp_path):
    path = write_export(tmp_path / "x.csv", [youth_office_row(Nachname="Krüger")],
                        encoding="cp1252")
    export, rows = read_export(path, YOUTH_OFFICE_COLUMNS)
    assert export.encoding == "cp1252"
    assert rows[0].get("Nachname") == "Krüger"


def test_explicit_wrong_encoding_is_a_clear_error(tmp_path):
    path = write_export(tmp_path / "x.csv", [youth_office_row(Nachname="Krüger")],
                        encoding="cp1252")
    with pytest.raises(InputError, match="not readable as utf-8"):
        read_export(path, YOUTH_OFFICE_COLUMNS, encoding="utf-8")


def test_quoted_fields_extra_columns_and_free_column_order(tmp_path):
    columns = ("Bemerkung", *reversed(YOUTH_OFFICE_COLUMNS))
    row = youth_office_row(Angebot='"Eltern; Kind"', Bemerkung="ignored")
    path = write_export(tmp_path / "x.csv", [row], columns=columns)
    _, rows = read_export(path, YOUTH_OFFICE_COLUMNS)
    assert rows[0].get("Angebot") == "Eltern; Kind"
    assert rows[0].line == 2


def test_wrong_delimiter_fails_before_anything(tmp_path):
    path = write_export(tmp_path / "x.csv", [youth_office_row()], delimiter=",")
    with pytest.raises(InputError, match=r"not separated by ';' \(it uses ','\)"):
        read_export(path, YOUTH_OFFICE_COLUMNS)


def test_no_header(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("JA-1;Übergabe angefragt;16.09.2026;Tom;Beispiel\n")
    with pytest.raises(InputError, match="no header line"):
        read_export(path, YOUTH_OFFICE_COLUMNS)


def test_missing_columns_are_named(tmp_path):
    columns = [c for c in YOUTH_OFFICE_COLUMNS if c not in ("Zweck", "Datum")]
    path = write_export(tmp_path / "x.csv", [youth_office_row()], columns=columns)
    with pytest.raises(InputError, match="missing columns: Datum, Zweck"):
        read_export(path, YOUTH_OFFICE_COLUMNS)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(InputError, match="empty file"):
        read_export(tmp_path / "empty.csv", YOUTH_OFFICE_COLUMNS)
    with pytest.raises(InputError, match="no such file"):
        read_export(tmp_path / "nope.csv", YOUTH_OFFICE_COLUMNS)


@pytest.mark.parametrize(("name", "agency"), [
    ("jugendamt-kamen_export.csv", "jugendamt-kamen"),
    ("einwilligungen_jobcenter-kreis-unna.csv", "jobcenter-kreis-unna"),
    ("export.csv", None),
])
def test_agency_from_file_name(name, agency):
    assert agency_from_filename(name) == agency
