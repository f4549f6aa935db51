"""Youth office exports (``jugendamt-*_export.csv``): offer and handover steps of a case.

Columns: Vorgangsnummer; Ereignis; Datum; Vorname; Nachname; Geburtsdatum; Wohnort; Angebot;
Zielstelle; Zweck; Uebergabe-ID. One row is one step; names and birth date are used for the
pseudonym and the life phase, then dropped.
"""

from __future__ import annotations

from connectors.export_file import ExportRow
from connectors.pseudonym import pseudonym
from connectors.rows import RowReader, event_id, life_phase, start_of_day
from hub.agencies import AgencyDirectory
from hub.contract.models import PAYLOAD_MODELS, Envelope
from hub.contract.vocabulary import EventType
from hub.settings import PseudonymKey

KIND = "youth_office"
COLUMNS = (
    "Vorgangsnummer", "Ereignis", "Datum", "Vorname", "Nachname", "Geburtsdatum", "Wohnort",
    "Angebot", "Zielstelle", "Zweck", "Uebergabe-ID",
)


def to_envelope(
    row: ExportRow, agency_id: str, key: PseudonymKey, agencies: AgencyDirectory
) -> Envelope:
    """One row -> one event, or RowError with every problem of the row."""
    r = RowReader(row)
    record_id = r.text("Vorgangsnummer")
    etype = r.event_type()
    on = r.date("Datum")
    given, family = r.text("Vorname"), r.text("Nachname")
    birth = r.date("Geburtsdatum")
    town = r.municipality("Wohnort")
    purpose = r.purpose()
    phase = None
    if birth and on:
        phase = life_phase(birth, on)
        if phase is None:
            r.problems.append("the person is 25 or older at the event: beyond the chain")
    recipient = correlation = None
    payload: dict[str, str] = {}
    if etype and etype.startswith("offer."):
        payload["offer_category"] = r.text("Angebot")
    elif etype and etype.startswith("handover."):
        correlation = r.text("Uebergabe-ID")
        payload["handover_id"] = correlation
        if etype == "handover.requested":
            recipient = r.text("Zielstelle")
            if recipient and recipient not in agencies:
                r.problems.append(f"Zielstelle {recipient!r} is not a known agency id")
    r.check()
    event_type = EventType(etype)
    return Envelope(
        id=event_id(agency_id, record_id, etype, on),
        type=event_type,
        source=agency_id,
        time=start_of_day(on),
        subject=pseudonym(key, given, family, birth),
        key_id=key.key_id,
        municipality=town,
        life_phase=phase,
        purpose=purpose,
        recipient=recipient,
        correlation_id=correlation,
        payload=PAYLOAD_MODELS[event_type](**payload),
    )
