"""Export files for tests that send a flow of events through the hub."""

from __future__ import annotations

from pathlib import Path

from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row


def flow_exports(folder: Path, tag: str, sender: str, recipient: str, children: int = 50,
                 each: int = 20) -> tuple[Path, Path]:
    """A youth office's consent export and its export of ``children`` x ``each`` handover
    requests to ``recipient`` (every child consented), in ``folder``; ``tag`` makes the
    children and ids new."""
    consents, requests = [], []
    for child in range(children):
        person = {"Vorname": f"Kind{child}x{tag}", "Nachname": "Muster",
                  "Geburtsdatum": "02.09.2020", "Wohnort": "Bönen"}
        consents.append(consent_row(**{"Einwilligungs-ID": f"EW-{tag}-{child}"}, **person,
                                    Zweck="Frühe Hilfen", Empfaenger=recipient,
                                    Gueltig_ab="01.01.2026", Gueltig_bis=""))
        requests += [youth_office_row(Vorgangsnummer=f"JA-{tag}-{child}-{n}", **person,
                                      Zielstelle=recipient, Zweck="Frühe Hilfen",
                                      **{"Uebergabe-ID": f"UE-{tag}-{child}-{n}"})
                     for n in range(each)]
    folder.mkdir(parents=True, exist_ok=True)
    return (write_export(folder / f"einwilligungen_{sender}.csv", consents,
                         columns=CONSENT_COLUMNS),
            write_export(folder / f"{sender}_export.csv", requests))
