"""Inbox events as CSV in the agencies' German vocabulary (pure: no files, no Kafka).

One row per event, ``;``-separated, header line, ``\\r\\n`` line ends, UTF-8. Every envelope
field except ``schema_version`` and every payload field of every event type has its own
column (``time`` has two, ``Datum`` and ``Uhrzeit``, and ``time_precision`` shows in them: an
event known only by its day has an empty ``Uhrzeit``); a column that does not apply to an event
type stays empty. docs/delivery.md lists the columns for agency IT staff.

Values come from other agencies' exports (offer names, handover and consent ids): a cell that
a spreadsheet would run as a formula is neutralised as OWASP's "CSV Injection" guidance says
(:func:`csv_cell`, docs/delivery.md "Formulas").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from zoneinfo import ZoneInfo

from connectors.vocabulary import (
    EVENT_WORDS,
    PURPOSE_WORDS,
    SCREENING_WORDS,
    SUPPORT_CATEGORY_WORDS,
    TOWN_WORDS,
)
from hub.contract.models import Envelope, event_day, is_date_only

LOCAL_TIME = ZoneInfo("Europe/Berlin")
"""Dates and times in the files are local time of Kreis Unna, not UTC."""

ENVELOPE_COLUMNS = (
    "Ereignis-ID", "Ereignis", "Datum", "Uhrzeit", "Absender", "Empfaenger", "Pseudonym",
    "Schluessel-ID", "Gemeinde", "Lebensphase", "Zweck", "Korrelations-ID",
)

PAYLOAD_COLUMNS: dict[str, tuple[str, dict[str, str] | None]] = {
    # payload field: (column, German words for its values or None for the value as it is)
    "handover_id": ("Uebergabe-ID", None),
    "offer_category": ("Angebot", None),
    "screening_kind": ("Untersuchung", SCREENING_WORDS),
    "support_category": ("Ergebnis", SUPPORT_CATEGORY_WORDS),
    "consent_id": ("Einwilligungs-ID", None),
    "recipients": ("Einwilligung-Empfaenger", None),
    "valid_from": ("Gueltig-ab", None),
    "valid_to": ("Gueltig-bis", None),
    "recorded_at": ("Erfasst-am", None),
    "effective_at": ("Wirksam-ab", None),
    "requested_by": ("Angefragt-von", None),
    "waiting_for": ("Wartet-auf", None),
    "deadline": ("Frist", None),
    "reference": ("Aktenzeichen", None),
}
"""Where each payload field of the contract goes; tests prove every field is listed."""

COLUMNS = ENVELOPE_COLUMNS + tuple(column for column, _ in PAYLOAD_COLUMNS.values())

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting like this would be run as a formula by spreadsheet programs."""
NEUTRALISER = "'"
"""Put before a cell that could run as a formula: spreadsheets show such a cell as text."""
QUOTED_IF_INSIDE = (";", '"', "\r", "\n")
"""A cell with one of these is quoted (and a neutralised cell always is)."""


def german_date(value: date) -> str:
    """``TT.MM.JJJJ``; a point in time is taken in local time first."""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TIME)
    return value.strftime("%d.%m.%Y")


def german_timestamp(value: datetime) -> str:
    """``TT.MM.JJJJ HH:MM:SS`` in local time (Europe/Berlin)."""
    return value.astimezone(LOCAL_TIME).strftime("%d.%m.%Y %H:%M:%S")


def cell_text(value: object, words: dict[str, str] | None = None,
              date_only: bool = False) -> str:
    """One payload value as text: a German word if ``words`` has one, dates in German
    notation, lists comma-separated, anything else as it is. ``date_only``: the value is a
    point in time that stands for a day only (midnight UTC of it), written as that day."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    if words is not None and isinstance(value, str):
        return words.get(value, value)
    if isinstance(value, datetime):
        return german_date(value.date()) if date_only else german_timestamp(value)
    if isinstance(value, date):
        return german_date(value)
    if isinstance(value, tuple | list):
        return ",".join(cell_text(item) for item in value)
    return str(value)


def envelope_row(envelope: Envelope) -> dict[str, str]:
    """The CSV row of one event: a value (possibly empty) for every column of ``COLUMNS``.

    An event known only by its day (``time_precision`` ``date``, an agency's export row) has
    that day as ``Datum`` and an empty ``Uhrzeit``, and so have its payload's points in time
    that are the same day (a consent's ``Erfasst-am``, ``Wirksam-ab``): its midnight UTC is
    no time of day, and 02:00 in summer would read as two in the morning."""
    if is_date_only(envelope):
        datum, uhrzeit = german_date(event_day(envelope)), ""
    else:
        local = envelope.time.astimezone(LOCAL_TIME)
        datum, uhrzeit = local.strftime("%d.%m.%Y"), local.strftime("%H:%M:%S")
    row = dict.fromkeys(COLUMNS, "")
    row.update({
        "Ereignis-ID": envelope.id,
        "Ereignis": cell_text(envelope.type, EVENT_WORDS),
        "Datum": datum,
        "Uhrzeit": uhrzeit,
        "Absender": envelope.source,
        "Empfaenger": envelope.recipient or "",
        "Pseudonym": envelope.subject,
        "Schluessel-ID": envelope.key_id,
        "Gemeinde": cell_text(envelope.municipality, TOWN_WORDS),
        "Lebensphase": cell_text(envelope.life_phase),
        "Zweck": cell_text(envelope.purpose, PURPOSE_WORDS),
        "Korrelations-ID": envelope.correlation_id or "",
    })
    payload = envelope.payload
    for field in type(payload).model_fields:
        column, words = PAYLOAD_COLUMNS[field]
        value = getattr(payload, field)
        row[column] = cell_text(value, words, date_only=isinstance(value, datetime)
                                and is_date_only(envelope, value))
    return row


def neutralise_formula(text: str) -> str:
    """Prefix ``'`` to a cell that a spreadsheet would run as a formula (CSV injection):
    one starting with ``= + - @``, tab or carriage return, also after leading whitespace
    (spreadsheets may trim it on import). A cell that starts with ``'`` already gets one
    more, so that removing one leading ``'`` from every cell that has one always gives back
    the value."""
    if text.startswith((*FORMULA_STARTS, NEUTRALISER)) or \
            text.lstrip().startswith(FORMULA_STARTS):
        return NEUTRALISER + text
    return text


def restore_cell(cell: str) -> str:
    """The value of a cell as read from a delivered file: what :func:`neutralise_formula`
    added taken off again (docs/delivery.md shows the same for agencies' importers)."""
    return cell[1:] if cell.startswith(NEUTRALISER) else cell


def csv_cell(text: str) -> str:
    """One cell as written to the file: neutralised, and quoted (``"`` inside doubled) when
    it was neutralised or holds the separator, a quote or a line break, so that nothing in
    it can end the cell and start one of its own."""
    text = neutralise_formula(text)
    if text.startswith(NEUTRALISER) or any(c in text for c in QUOTED_IF_INSIDE):
        return '"' + text.replace('"', '""') + '"'
    return text


def render_csv(envelopes: Iterable[Envelope]) -> bytes:
    """The content of one batch file: header line and one row per event, UTF-8."""
    lines = [";".join(csv_cell(column) for column in COLUMNS)]
    for envelope in envelopes:
        row = envelope_row(envelope)
        lines.append(";".join(csv_cell(row[column]) for column in COLUMNS))
    return "".join(line + "\r\n" for line in lines).encode("utf-8")
