"""The export formats of the agency kinds: which columns, and what one row means.

Each format turns one row into :class:`~connectors.envelopes.EventFacts` (the consent export is
handled by :mod:`connectors.consent`, since it publishes each consent's latest state).
The columns listed are required; other columns are ignored and column order is free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connectors import vocabulary
from connectors.envelopes import EventFacts, RowError
from connectors.rows import RowReader


@dataclass(frozen=True)
class ExportFormat:
    name: str
    kinds: tuple[str, ...]  # agency kinds that produce it
    columns: tuple[str, ...]  # required columns
    to_facts: Callable[[RowReader, str], EventFacts]


def _event_facts(r: RowReader, agency_id: str, *, record: str, town: str, etype: str | None,
                 detail: str | None, handover: str | None,
                 recipient: str | None = None, **extra) -> EventFacts:
    """Common tail of every event format: read the shared columns, then check the row."""
    record_id = r.text(record)
    on = r.date("Datum")
    person = r.person()
    municipality = r.municipality(town)
    purpose = r.purpose()
    offer = handover_id = None
    if etype and etype.startswith("offer."):
        offer = detail or None
        if not offer:
            r.problems.append("an offer row needs the offer's name")
    elif etype and etype.startswith("handover."):
        handover_id = handover or None
        if not handover_id:
            r.problems.append("a handover row needs the handover id")
        if etype == "handover.requested" and not recipient:
            r.problems.append("Übergabe angefragt needs the receiving agency (Zielstelle)")
    r.check()
    return EventFacts(agency_id, record_id, etype, on, person, municipality, purpose,
                      recipient=recipient if etype == "handover.requested" else None,
                      handover_id=handover_id, offer_category=offer, **extra)


def youth_office(r: RowReader, agency_id: str) -> EventFacts:
    etype = r.event_type()
    return _event_facts(r, agency_id, record="Vorgangsnummer", town="Wohnort", etype=etype,
                        detail=r.text("Angebot", False), handover=r.text("Uebergabe-ID", False),
                        recipient=r.text("Zielstelle", False))


def school(r: RowReader, agency_id: str) -> EventFacts:
    """``Bezug`` is the handover id of a handover row, the offer's name of an offer row."""
    etype = r.event_type()
    reference = r.text("Bezug", False)
    return _event_facts(r, agency_id, record="Schüler-ID", town="Wohnort", etype=etype,
                        detail=reference, handover=reference,
                        recipient=r.text("Zielstelle", False))


def health(r: RowReader, agency_id: str) -> EventFacts:
    """``Art`` is an examination (``Ergebnis`` its coarse category) or an event word
    (``Ergebnis`` the offer's name, ``Bezug`` the handover id)."""
    art = r.text("Art")
    kind = vocabulary.screening_kind(art) if art else None
    if kind:
        category = r.mapped("Ergebnis", vocabulary.support_category, "examination result")
        return _event_facts(r, agency_id, record="Untersuchungs-Nr", town="Gemeinde",
                            etype="screening.completed", detail=None, handover=None,
                            screening_kind=kind, support_category=category)
    etype = vocabulary.event_type(art) if art else None
    if art and etype is None:
        r.problems.append(r.problem("Art", art,
                                    "is neither a known examination nor a known event"))
    return _event_facts(r, agency_id, record="Untersuchungs-Nr", town="Gemeinde", etype=etype,
                        detail=r.text("Ergebnis", False), handover=r.text("Bezug", False),
                        recipient=r.text("Zielstelle", False))


def jobcenter(r: RowReader, agency_id: str) -> EventFacts:
    """``BG-Nummer`` names a household; the member is told apart by the pseudonym."""
    etype = r.event_type()
    return _event_facts(r, agency_id, record="BG-Nummer", town="Wohnort", etype=etype,
                        detail=r.text("Maßnahme", False), handover=r.text("Uebergabe-ID", False),
                        recipient=r.text("Zielstelle", False), per_person=True)


FORMATS = {
    f.name: f for f in (
        ExportFormat("youth_office", ("youth_office",),
                     ("Vorgangsnummer", "Ereignis", "Datum", "Vorname", "Nachname",
                      "Geburtsdatum", "Wohnort", "Angebot", "Zielstelle", "Zweck",
                      "Uebergabe-ID"), youth_office),
        ExportFormat("school", ("school", "daycare"),
                     ("Schüler-ID", "Vorname", "Nachname", "Geburtsdatum", "Wohnort",
                      "Ereignis", "Datum", "Bezug", "Zweck"), school),
        ExportFormat("health", ("health",),
                     ("Untersuchungs-Nr", "Art", "Datum", "Vorname", "Nachname",
                      "Geburtsdatum", "Gemeinde", "Ergebnis", "Bezug", "Zweck"), health),
        ExportFormat("jobcenter", ("jobcenter",),
                     ("BG-Nummer", "Ereignis", "Datum", "Vorname", "Nachname", "Geburtsdatum",
                      "Wohnort", "Maßnahme", "Zielstelle", "Zweck", "Uebergabe-ID"), jobcenter),
    )
}

__all__ = ["FORMATS", "ExportFormat", "RowError"]
