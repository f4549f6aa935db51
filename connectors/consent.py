"""Consent exports (``einwilligungen_<agency>.csv``), producible by any agency.

Columns: Einwilligungs-ID; Vorname; Nachname; Geburtsdatum; Wohnort; Zweck; Empfaenger
(agency ids, comma separated); Gueltig_ab; Gueltig_bis (may be empty); Status (erteilt /
widerrufen); Erfasst_am.

A file lists each consent's history. Only each consent id's latest state (by Erfasst_am,
later rows win a tie) is published, so that no reader sees a grant the same file already
withdrew; a withdrawal takes effect at its Erfasst_am. If any row of a consent id is
rejected, nothing of that consent id is published (its latest state would be unknown).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from connectors import vocabulary
from connectors.envelopes import ConsentFacts, RowError, value_problem
from connectors.export_file import ExportFile
from connectors.rows import RowReader

COLUMNS = ("Einwilligungs-ID", "Vorname", "Nachname", "Geburtsdatum", "Wohnort", "Zweck",
           "Empfaenger", "Gueltig_ab", "Gueltig_bis", "Status", "Erfasst_am")


@dataclass(frozen=True)
class ConsentRow:
    line: int
    facts: ConsentFacts


def consent_facts(r: RowReader, agency_id: str) -> ConsentFacts:
    consent_id = r.text("Einwilligungs-ID")
    person = r.person()
    town = r.municipality("Wohnort")
    purpose = r.purpose()
    recipients = tuple(dict.fromkeys(
        part.strip() for part in r.text("Empfaenger").split(",") if part.strip()))
    valid_from = r.date("Gueltig_ab")
    valid_to = r.date("Gueltig_bis", required=False)
    status = r.mapped("Status", vocabulary.consent_status, "consent status (erteilt, "
                      "widerrufen)")
    recorded = r.date("Erfasst_am")
    r.check()
    return ConsentFacts(agency_id, consent_id, status == "consent.granted", person, town,
                        purpose, recipients, valid_from, valid_to, recorded)


def latest_states(
    export: ExportFile, agency_id: str
) -> Iterator[tuple[int, ConsentFacts | None, list[str]]]:
    """(line, facts, problems) per row: facts for the rows to publish, problems for the
    rejected ones; superseded rows yield (line, None, [])."""
    latest: dict[str, ConsentRow] = {}
    superseded: list[int] = []
    rejected_ids: set[str] = set()
    for row in export.rows():
        reader = RowReader(row)
        try:
            facts = consent_facts(reader, agency_id)
        except RowError as exc:
            consent_id = row.get("Einwilligungs-ID")
            if consent_id:
                rejected_ids.add(consent_id)
            yield row.line, None, exc.problems
            continue
        current = latest.get(facts.consent_id)
        if current is None or facts.recorded_on >= current.facts.recorded_on:
            if current is not None:
                superseded.append(current.line)
            latest[facts.consent_id] = ConsentRow(row.line, facts)
        else:
            superseded.append(row.line)
    for line in superseded:
        yield line, None, []
    for consent_id, kept in latest.items():
        if consent_id in rejected_ids:
            yield kept.line, None, [value_problem(
                "consent", consent_id, "has a rejected row in this file: its latest state is "
                "unknown, so none of its rows is published")]
        else:
            yield kept.line, kept.facts, []
