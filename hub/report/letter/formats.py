"""Times, dates, days and purposes as the access letter writes them (German, Europe/Berlin)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from datetime import time as clock_time
from html import escape
from zoneinfo import ZoneInfo

from connectors.vocabulary import PURPOSE_WORDS
from hub.report import names

LOCAL_TIME = ZoneInfo("Europe/Berlin")
DATE_ONLY, INSTANT = "date", "instant"
"""The values of an audit record's ``event_time_precision`` (the event's ``time_precision``)."""


def instant(value) -> datetime | None:
    """``value`` (a datetime or ISO text) as an aware datetime; None when it is no time."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except (TypeError, ValueError):
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def when(value, precision: str | None = None) -> str:
    """A time in German format, Europe/Berlin. ``precision`` ``date`` (the event knew only
    its day: ``value`` is midnight UTC of it) shows that day alone, ``instant`` the time of
    day as well. Unknown precision (audit records and consents from before the contract
    said it): exactly midnight UTC is taken for a date-only export row, its date only. A
    value that is no time is shown as it is."""
    dt = instant(value)
    if dt is None:
        return str(value or "–")
    utc = dt.astimezone(UTC)
    if precision == DATE_ONLY or (precision != INSTANT and utc.time() == clock_time(0)):
        return utc.strftime("%d.%m.%Y")
    return dt.astimezone(LOCAL_TIME).strftime("%d.%m.%Y, %H:%M Uhr")


def when_cell(value, precision: str | None = None) -> str:
    """:func:`when` for a narrow column, as HTML: "Uhr" stays with its time."""
    return escape(when(value, precision)).replace(" Uhr", "&nbsp;Uhr")


def day(value) -> str:
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    try:
        return date.fromisoformat(str(value)).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


def long_day(value: date) -> str:
    return f"{value.day}. {names.MONTHS[value.month - 1]} {value.year}"


def purpose(value: str | None) -> str:
    return PURPOSE_WORDS.get(value or "", value or "–")


def days(value: float, dative: bool = True) -> str:
    """``730 Tagen`` (after ...), or ``730 Tage`` (back)."""
    number = names.number(value, 0 if float(value).is_integer() else 1)
    return f"{number} {'Tag' if value == 1 else 'Tagen' if dative else 'Tage'}"
