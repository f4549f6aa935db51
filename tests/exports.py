"""Builders for synthetic agency exports (every person invented) used by the tests."""

from __future__ import annotations

from pathlib import Path

YOUTH_OFFICE_COLUMNS = (
    "Vorgangsnummer", "Ereignis", "Datum", "Vorname", "Nachname", "Geburtsdatum", "Wohnort",
    "Angebot", "Zielstelle", "Zweck", "Uebergabe-ID",
)


def youth_office_row(**values: str) -> dict[str, str]:
    row = {
        "Vorgangsnummer": "JA-KAM-2026-0001", "Ereignis": "Übergabe angefragt",
        "Datum": "16.09.2026", "Vorname": "Tom", "Nachname": "Beispiel",
        "Geburtsdatum": "02.09.2020", "Wohnort": "Kamen", "Angebot": "",
        "Zielstelle": "grundschule-kamen-mitte", "Zweck": "Übergang Kita-Schule",
        "Uebergabe-ID": "UE-KAM-0001",
    }
    row.update(values)
    return row


def write_export(path: Path, rows: list[dict[str, str]], columns=YOUTH_OFFICE_COLUMNS,
                 encoding: str = "utf-8", delimiter: str = ";") -> Path:
    lines = [delimiter.join(columns)]
    lines += [delimiter.join(row.get(c, "") for c in columns) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path
