"""Shared pieces of turning one export row into one event: parsing, checking, ids.

Every problem of a row is collected, so an agency sees all that is wrong with it at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from connectors import vocabulary
from connectors.export_file import ExportRow
from hub.errors import HubError

# Namespace of the hub's deterministic event ids (uuid5 over agency, record, type, date).
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2b7e-3d0a-5c55-9a51-756e6e612d68")

# (phase, first age in years that no longer belongs to it)
LIFE_PHASES = (
    ("rund_um_geburt", 1),
    ("kleinkind", 3),
    ("kita", 6),
    ("grundschule", 10),
    ("sek1", 16),
    ("uebergang_beruf", 25),
)


class RowError(HubError):
    """A row that cannot become an event; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class RowReader:
    """Reads typed values from a row and collects every problem instead of stopping."""

    row: ExportRow
    problems: list[str] = field(default_factory=list)

    def text(self, column: str, required: bool = True) -> str:
        value = self.row.get(column)
        if required and not value:
            self.problems.append(f"{column} is empty")
        return value

    def date(self, column: str, required: bool = True) -> date | None:
        value = self.text(column, required)
        if not value:
            return None
        try:
            return datetime.strptime(value, "%d.%m.%Y").date()
        except ValueError:
            self.problems.append(f"{column} {value!r} is not a date (TT.MM.JJJJ)")
            return None

    def mapped(self, column: str, lookup, what: str) -> str | None:
        value = self.text(column)
        if not value:
            return None
        result = lookup(value)
        if result is None:
            self.problems.append(f"{column} {value!r} is not a known {what}")
        return result

    def event_type(self, column: str = "Ereignis") -> str | None:
        return self.mapped(column, vocabulary.event_type, "event")

    def purpose(self, column: str = "Zweck") -> str | None:
        return self.mapped(column, vocabulary.purpose, "purpose")

    def municipality(self, column: str) -> str | None:
        return self.mapped(column, vocabulary.municipality, "town of Kreis Unna")

    def check(self) -> None:
        if "__short__" in self.row.fields:
            self.problems.insert(0, f"row has only {self.row.fields['__short__']}")
        if self.problems:
            raise RowError(self.problems)


def life_phase(birth: date, at: date) -> str | None:
    """The chain's life phase at ``at``; None beyond the chain (25 and older)."""
    age = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    for phase, limit in LIFE_PHASES:
        if age < limit:
            return phase
    return None


def event_id(agency_id: str, record_id: str, event_type: str, on: date) -> str:
    """Deterministic: re-importing an export yields the same ids."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{agency_id}|{record_id}|{event_type}|{on}"))


def start_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
