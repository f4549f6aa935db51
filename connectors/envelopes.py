"""What a connector knows about one event before it becomes an envelope.

Every export format (and the SDK) fills an :class:`EventFacts` or :class:`ConsentFacts`;
:func:`build_envelope` and :func:`build_consent_envelope` turn them into pseudonymised
envelopes with deterministic ids. The person's names and birth date are used for the
pseudonym and the life phase and go no further.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pydantic import ValidationError

from connectors.pseudonym import UnusableName, normalise_name, pseudonym
from hub.agencies import AgencyDirectory
from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType, TimePrecision
from hub.errors import HubError
from hub.settings import PseudonymKey

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
    """Facts that cannot become an event; ``problems`` lists everything wrong with them."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


SHOWN_CHARS = 40
"""A problem quotes a row's value only up to this length (see :func:`shown`)."""


class Problem(str):
    """One problem of a row, as the agency's own report shows it (it may quote the value at
    fault); ``public`` says the same without any value of the row, for the dead letter that
    goes to the hub's operators."""

    public: str

    def __new__(cls, text: str, public: str | None = None) -> Problem:
        problem = super().__new__(cls, text)
        problem.public = text if public is None else public
        return problem


def shown(value: str) -> str | None:
    """``value`` quoted for a problem text, or None when it must not be quoted: longer than
    ``SHOWN_CHARS``, or with a separator, quote, line break or control character in it. Such
    a value is hardly one cell of the export (an open quote took in the fields after it,
    names and birth date included), and a problem never repeats a name or a birth date."""
    if len(value) > SHOWN_CHARS or any(c in value for c in ';"\'') or \
            any(not c.isprintable() for c in value):
        return None
    return repr(value)


def value_problem(what: str, value: str, complaint: str, show: bool = True) -> Problem:
    """"<what> '<value>' <complaint>" for the report (the value only if :func:`shown` and
    ``show`` allow it), "<what> <complaint>" for the dead letter."""
    public = f"{what} {complaint}"
    quoted = shown(value) if show else None
    return Problem(f"{what} {quoted} {complaint}" if quoted else public, public)


def public_reasons(problems) -> list[str]:
    """The problems as a dead letter may carry them: without any value of the row."""
    return [getattr(problem, "public", problem) for problem in problems]


@dataclass(frozen=True)
class Person:
    """Identifying data: used for the pseudonym and the age, never printed or published."""

    given_name: str = field(repr=False)
    family_name: str = field(repr=False)
    birth_date: date = field(repr=False)

    def __repr__(self) -> str:
        return "Person(<identifying data withheld>)"


@dataclass(frozen=True)
class EventFacts:
    agency_id: str
    record_id: str
    event_type: str
    on: date
    person: Person
    municipality: str
    purpose: str
    recipient: str | None = None
    handover_id: str | None = None
    offer_category: str | None = None
    screening_kind: str | None = None
    support_category: str | None = None
    per_person: bool = False  # record_id names a household: the id also needs the person


@dataclass(frozen=True)
class ConsentFacts:
    agency_id: str
    consent_id: str
    granted: bool
    person: Person
    municipality: str
    purpose: str
    recipients: tuple[str, ...]
    valid_from: date
    valid_to: date | None
    recorded_on: date


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
    """The ``time`` of an event known only by its day: midnight UTC of ``day``, sent with
    ``time_precision`` ``date`` (:data:`DATE_ONLY`), so that nobody shows it as a time."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


DATE_ONLY = TimePrecision.DATE
"""An export row (and an SDK call) gives the day of an event, never its time of day."""


def _phase(person: Person, on: date, problems: list[str]) -> str | None:
    phase = life_phase(person.birth_date, on)
    if phase is None:
        problems.append("the person is 25 or older at the event: beyond the prevention chain")
    return phase


def name_problems(given_name: str, family_name: str) -> list[str]:
    """A problem (naming the column, never the value) for each name that has nothing left to
    compare, such as one of punctuation or emoji only: it can have no pseudonym."""
    return [f"{column} has no letter or digit (in any script): no pseudonym can be computed"
            for column, value in (("Vorname", given_name), ("Nachname", family_name))
            if not normalise_name(value)]


def _subject(person: Person, key: PseudonymKey, problems: list[str]) -> str | None:
    """The person's pseudonym, or None with the problems of its names."""
    try:
        return pseudonym(key, person.given_name, person.family_name, person.birth_date)
    except UnusableName:
        problems += name_problems(person.given_name, person.family_name)
        return None


def _known(agencies: AgencyDirectory, agency_id: str, what: str, problems: list[str]) -> None:
    if agency_id not in agencies:
        problems.append(value_problem(what, agency_id, "is not a known agency id"))


def _envelope(**fields) -> Envelope:
    """Validate against the contract; its complaints become row problems (without values)."""
    try:
        return Envelope(**fields)
    except ValidationError as exc:
        raise RowError([f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                        for e in exc.errors()]) from None


def build_envelope(facts: EventFacts, key: PseudonymKey, agencies: AgencyDirectory) -> Envelope:
    """The envelope for ``facts``; RowError with every problem when it cannot be built."""
    problems: list[str] = []
    phase = _phase(facts.person, facts.on, problems)
    subject = _subject(facts.person, key, problems)
    etype = EventType(facts.event_type)
    payload: dict[str, str | None] = {}
    recipient = correlation = None
    if etype.value.startswith("offer."):
        payload["offer_category"] = facts.offer_category
        if not facts.offer_category:
            problems.append(f"{etype.value} needs an offer name")
    elif etype is EventType.SCREENING_COMPLETED:
        payload = {"screening_kind": facts.screening_kind,
                   "support_category": facts.support_category}
    elif etype.value.startswith("handover."):
        correlation = payload["handover_id"] = facts.handover_id
        if not facts.handover_id:
            problems.append(f"{etype.value} needs a handover id")
        if etype is EventType.HANDOVER_REQUESTED:
            recipient = facts.recipient
            if not recipient:
                problems.append("handover.requested needs a recipient agency (Zielstelle)")
            else:
                _known(agencies, recipient, "recipient", problems)
    else:
        problems.append(f"{etype.value} cannot come from an agency export")
    if problems:
        raise RowError(problems)
    record = f"{facts.record_id}/{subject}" if facts.per_person else facts.record_id
    return _envelope(
        id=event_id(facts.agency_id, record, etype.value, facts.on),
        type=etype,
        source=facts.agency_id,
        time=start_of_day(facts.on),
        time_precision=DATE_ONLY,
        subject=subject,
        key_id=key.key_id,
        municipality=facts.municipality,
        life_phase=phase,
        purpose=facts.purpose,
        recipient=recipient,
        correlation_id=correlation,
        payload=payload,
    )


def build_consent_envelope(
    facts: ConsentFacts, key: PseudonymKey, agencies: AgencyDirectory
) -> Envelope:
    """A consent's state as an event: granted, or revoked from ``recorded_on`` on."""
    problems: list[str] = []
    phase = _phase(facts.person, facts.recorded_on, problems)
    subject = _subject(facts.person, key, problems)
    if not facts.recipients:
        problems.append("a consent needs at least one recipient (Empfaenger)")
    for recipient in facts.recipients:
        _known(agencies, recipient, "recipient", problems)
    if facts.valid_to and facts.valid_to < facts.valid_from:
        problems.append(Problem(f"Gueltig_bis {facts.valid_to:%d.%m.%Y} is before Gueltig_ab "
                                f"{facts.valid_from:%d.%m.%Y}",
                                "Gueltig_bis is before Gueltig_ab"))
    if problems:
        raise RowError(problems)
    etype = EventType.CONSENT_GRANTED if facts.granted else EventType.CONSENT_REVOKED
    payload = {
        "consent_id": facts.consent_id,
        "recipients": facts.recipients,
        "valid_from": facts.valid_from,
        "valid_to": facts.valid_to,
        "recorded_at": start_of_day(facts.recorded_on),
    }
    if not facts.granted:
        payload["effective_at"] = start_of_day(facts.recorded_on)
    return _envelope(
        id=event_id(facts.agency_id, facts.consent_id, etype.value, facts.recorded_on),
        type=etype,
        source=facts.agency_id,
        time=start_of_day(facts.recorded_on),
        time_precision=DATE_ONLY,
        subject=subject,
        key_id=key.key_id,
        municipality=facts.municipality,
        life_phase=phase,
        purpose=facts.purpose,
        correlation_id=facts.consent_id,
        payload=payload,
    )
