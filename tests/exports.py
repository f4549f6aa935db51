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

SCHOOL_COLUMNS = ("Schüler-ID", "Klasse", "Vorname", "Nachname", "Geburtsdatum", "Wohnort",
                  "Ereignis", "Datum", "Bezug", "Zweck")
HEALTH_COLUMNS = ("Untersuchungs-Nr", "Art", "Datum", "Vorname", "Nachname", "Geburtsdatum",
                  "Gemeinde", "Ergebnis", "Bezug", "Zweck")
JOBCENTER_COLUMNS = ("BG-Nummer", "Ereignis", "Datum", "Vorname", "Nachname", "Geburtsdatum",
                     "Wohnort", "Maßnahme", "Zielstelle", "Zweck", "Uebergabe-ID")
CONSENT_COLUMNS = ("Einwilligungs-ID", "Vorname", "Nachname", "Geburtsdatum", "Wohnort",
                   "Zweck", "Empfaenger", "Gueltig_ab", "Gueltig_bis", "Status", "Erfasst_am")


def school_row(**values: str) -> dict[str, str]:
    row = {"Schüler-ID": "S-1", "Klasse": "1a", "Vorname": "Tom", "Nachname": "Beispiel",
           "Geburtsdatum": "02.09.2020", "Wohnort": "Kamen", "Ereignis": "Übergabe angenommen",
           "Datum": "21.09.2026", "Bezug": "UE-KAM-0001", "Zweck": "Übergang Kita-Schule"}
    row.update(values)
    return row


def health_row(**values: str) -> dict[str, str]:
    row = {"Untersuchungs-Nr": "GA-1", "Art": "Schuleingangsuntersuchung",
           "Datum": "10.06.2026", "Vorname": "Tom", "Nachname": "Beispiel",
           "Geburtsdatum": "02.09.2020", "Gemeinde": "Kamen",
           "Ergebnis": "Förderbedarf Sprache", "Bezug": "", "Zweck": "Übergang Kita-Schule"}
    row.update(values)
    return row


def jobcenter_row(**values: str) -> dict[str, str]:
    row = {"BG-Nummer": "36104BG0001", "Ereignis": "Übergabe angefragt", "Datum": "03.11.2026",
           "Vorname": "Jana", "Nachname": "Muster", "Geburtsdatum": "23.06.2009",
           "Wohnort": "Lünen", "Maßnahme": "", "Zielstelle": "jugendamt-luenen",
           "Zweck": "Übergang Schule-Beruf", "Uebergabe-ID": "UE-JC-0001"}
    row.update(values)
    return row


def consent_row(**values: str) -> dict[str, str]:
    row = {"Einwilligungs-ID": "EW-1", "Vorname": "Tom", "Nachname": "Beispiel",
           "Geburtsdatum": "02.09.2020", "Wohnort": "Kamen", "Zweck": "Übergang Kita-Schule",
           "Empfaenger": "grundschule-kamen-mitte,jugendamt-kamen", "Gueltig_ab": "15.09.2026",
           "Gueltig_bis": "31.08.2027", "Status": "erteilt", "Erfasst_am": "15.09.2026"}
    row.update(values)
    return row
