"""What the access letter is made of: the child's audit records as rows (each decision
once, in the order decided, with its reason in German), and the consents' state."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hub.audit import DELIVERED, REFUSED
from hub.consent.ledger import ConsentState
from hub.report.letter.formats import DATE_ONLY, INSTANT, LOCAL_TIME, day, instant, purpose, when
from hub.report.letter.legacy import explain as explain_text
from hub.report.letter.sentences import Reason, explain_kind

HUB_NAME = "Datendrehscheibe (Hub) der Präventionskette"
HUB_SOURCE = "hub"  # the sender of the hub's own events (handover.stalled)


@dataclass(frozen=True)
class Row:
    record: dict
    at: datetime | None  # when the hub decided
    event_at: datetime | None

    def get(self, name: str) -> str:
        value = self.record.get(name)
        return "" if value is None else str(value)

    @property
    def precision(self) -> str | None:
        """The event time's precision (``date``, ``instant``); None in older records."""
        value = self.record.get("event_time_precision")
        return value if value in (DATE_ONLY, INSTANT) else None

    @property
    def typed(self) -> bool:
        """Written in audit format 2 or later: the reason is typed (``reason_kind``)."""
        version = self.record.get("audit_version")
        return isinstance(version, int) and version >= 2

    def reason(self, agency: Callable[[str], str]) -> Reason:
        """The record's reason in German: from its kind and parameters; a record of format
        1 from its text (:mod:`hub.report.letter.legacy`)."""
        if not self.typed:
            return explain_text(self.get("reason"), agency, self.get("decision"))
        params = self.record.get("reason_params")
        return explain_kind(self.get("decision"), self.record.get("reason_kind"),
                            params if isinstance(params, Mapping) else {},
                            self.get("reason"), agency)


def agency_namer(agencies) -> Callable[[str | None], str]:
    """agency id -> display name, from an :class:`~hub.agencies.AgencyDirectory` or a
    mapping id -> name; the hub's own name for ``hub``, the id itself when unknown."""
    if isinstance(agencies, Mapping):
        known = {str(k): str(v) for k, v in agencies.items()}
    else:
        known = {a.id: a.name for a in agencies}

    def agency(agency_id: str | None) -> str:
        if not agency_id:
            return "–"
        if agency_id == HUB_SOURCE:
            return HUB_NAME
        return known.get(agency_id, agency_id)

    return agency


def own_rows(subject: str, audit_records: Iterable[dict]) -> list[Row]:
    """The subject's records (others dropped), each decision once, in the order decided."""
    seen: set = set()
    rows = []
    for record in audit_records:
        if not isinstance(record, Mapping) or record.get("subject") != subject:
            continue
        key = record.get("audit_id") or tuple(sorted((k, str(v)) for k, v in record.items()))
        if key in seen:
            continue
        seen.add(key)
        rows.append(Row(dict(record), instant(record.get("time")),
                        instant(record.get("event_time"))))
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.at or never, r.event_at or never))


def consent_status(state: ConsentState, today: date) -> tuple[bool, str]:
    """(in force today, what the family reads)."""
    revoked = state.revoked_at
    if revoked is not None and revoked.astimezone(LOCAL_TIME).date() <= today:
        return False, f"widerrufen am {when(revoked)}"
    note = f"; widerrufen mit Wirkung ab {when(revoked)}" if revoked is not None else ""
    if state.valid_to is not None and state.valid_to < today:
        return False, f"beendet am {day(state.valid_to)}{note}"
    if state.valid_from > today:
        return False, f"noch nicht gültig (ab {day(state.valid_from)}){note}"
    return True, f"in Kraft{note}"


def purpose_of(row: Row, by_consent: Mapping[str, ConsentState]) -> str:
    state = by_consent.get(row.get("consent_id"))
    return purpose(state.purpose) if state else "–"


def later(held: Row, rows: list[Row], agency: Callable[[str], str]) -> str:
    """What became of a held event afterwards."""
    event_id = held.get("event_id")
    decided = [r for r in rows if event_id and r.get("event_id") == event_id
               and r.get("decision") in (DELIVERED, REFUSED)
               and (held.at is None or r.at is None or r.at >= held.at)]
    if not decided:
        return "Bis zu dieser Auskunft wurde sie nicht weiter entschieden."
    sent = [agency(r.get("recipient")) for r in decided if r.get("decision") == DELIVERED]
    refused = [agency(r.get("recipient")) for r in decided if r.get("decision") == REFUSED]
    said = []
    if sent:
        said.append(f"übermittelt an {', '.join(dict.fromkeys(sent))}")
    if refused:
        said.append(f"nicht übermittelt an {', '.join(dict.fromkeys(refused))}")
    return f"Später entschieden: {'; '.join(said)}."
