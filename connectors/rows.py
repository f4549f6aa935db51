"""Reading typed values from one export row, collecting every problem instead of stopping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from connectors import vocabulary
from connectors.envelopes import Person, Problem, RowError, name_problems, value_problem
from connectors.export_file import ExportRow

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters (NUL, tab, line breaks, ...): no value of an export has them inside."""


def parse_date(text: str) -> date | None:
    """``TT.MM.JJJJ`` -> date, or None when it is not a real date in that form."""
    parts = text.split(".")
    if len(parts) != 3 or len(parts[2]) != 4 or not all(p.isdigit() for p in parts):
        return None
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return None


@dataclass
class RowReader:
    """Typed values of one row; every problem is collected, :meth:`check` raises them all.

    A problem names the column, and quotes the value at fault only when the row is intact
    and the value short and plain (:func:`~connectors.envelopes.shown`): never a name or birth
    date, and nothing of a row whose fields are shifted (too few or too many fields)."""

    row: ExportRow
    problems: list[str] = field(default_factory=list)

    @property
    def _show_values(self) -> bool:
        return not self.row.problems

    def problem(self, column: str, value: str, complaint: str) -> Problem:
        return value_problem(column, value, complaint, self._show_values)

    def text(self, column: str, required: bool = True) -> str:
        value = self.row.get(column)
        if required and not value:
            self.problems.append(f"{column} is empty")
        elif CONTROL_CHARACTERS.search(value):
            self.problems.append(f"{column} contains control characters")
        return value

    def date(self, column: str, required: bool = True) -> date | None:
        value = self.text(column, required)
        if not value:
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.problems.append(self.problem(column, value, "is not a date (TT.MM.JJJJ)"))
        return parsed

    def mapped(self, column: str, lookup, what: str, required: bool = True) -> str | None:
        value = self.text(column, required)
        if not value:
            return None
        result = lookup(value)
        if result is None:
            self.problems.append(self.problem(column, value, f"is not a known {what}"))
        return result

    def event_type(self, column: str = "Ereignis") -> str | None:
        return self.mapped(column, vocabulary.event_type, "event")

    def purpose(self, column: str = "Zweck") -> str | None:
        return self.mapped(column, vocabulary.purpose, "purpose")

    def municipality(self, column: str) -> str | None:
        return self.mapped(column, vocabulary.municipality, "town of Kreis Unna")

    def person(self) -> Person | None:
        """Vorname, Nachname, Geburtsdatum; problems name the column, never the value."""
        given = self.text("Vorname")
        family = self.text("Nachname")
        raw_birth = self.row.get("Geburtsdatum")
        birth = None
        if not raw_birth:
            self.problems.append("Geburtsdatum is empty")
        else:
            birth = parse_date(raw_birth)
            if birth is None:
                self.problems.append("Geburtsdatum is not a date (TT.MM.JJJJ)")
        # an empty name is reported as empty above: "x" stands in for it here
        problems = name_problems(given or "x", family or "x")
        self.problems += problems
        if given and family and birth and not problems:
            return Person(given, family, birth)
        return None

    def check(self) -> None:
        """Raise every problem of the row; a row the CSV reader could not take apart raises
        only that (its columns are all empty)."""
        if not self.row.readable:
            raise RowError(list(self.row.problems))
        problems = [*self.row.problems, *self.problems]
        if problems:
            raise RowError(problems)
