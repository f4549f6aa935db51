"""``hub ingest FILE``: read an agency export and convert it: pseudonymised events, and each
child's linkage encodings (:mod:`connectors.encodings`); :mod:`connectors.publish` sends
them to the agency's outbox and ``hub.linkage``.

The file is checked as a whole first (encoding, delimiter, header, format); then rows are
streamed. Bad rows are reported (file, row, every problem), counted and dead-lettered
without identifying fields (through the agency's outbox, from where the router moves them
to ``hub.dlq``); the rest of the file is still published. An event larger than the broker
accepts is such a bad row too, whether the size check here finds it or the broker refuses
it. Events go through an idempotent producer (acks=all); publishing ends with a flush and
reports every event the broker did not acknowledge.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from connectors.consent import COLUMNS as CONSENT_COLUMNS
from connectors.consent import latest_states
from connectors.encodings import RecentChildren, encode, linkage_key
from connectors.envelopes import (
    Person,
    Problem,
    RowError,
    build_consent_envelope,
    build_envelope,
)
from connectors.export_file import ExportFile, agency_from_filename, open_export, read_columns
from connectors.formats import FORMATS
from connectors.pseudonym import UnusableName, legacy_pseudonym, pseudonym
from connectors.rows import RowReader
from hub.agencies import Agency, AgencyDirectory
from hub.contract.codec import get_codec
from hub.contract.models import Envelope
from hub.core.topics import LINKAGE_TOPIC
from hub.errors import InputError
from hub.settings import PseudonymKey
from hub.wording import counted

CONSENT = "consent"
ENCODED_REMEMBERED = 4096
"""The children a conversion remembers having sent the encodings of (the latest ones)."""
FORMAT_NAMES = (*FORMATS, CONSENT)

MAX_MESSAGE_BYTES = 1_000_000
"""The largest message (key and value) a connector sends. Kafka refuses larger ones with its
default limits (the broker's ``message.max.bytes`` and the producer's ``max_request_size``
are both 1 MiB, batch and record overhead included). A valid event has a few hundred bytes;
the check turns anything else into a row error instead of an exception from the producer."""
RECORD_OVERHEAD = 512
"""Bytes kept free below a producer's ``max_request_size`` for batch and record headers."""


def message_limit(producer) -> int:
    """The largest message ``producer`` sends: ``MAX_MESSAGE_BYTES``, or less when the
    producer's ``max_request_size`` is smaller."""
    config = getattr(producer, "config", None)
    request = config.get("max_request_size") if isinstance(config, dict) else None
    if not isinstance(request, int):
        return MAX_MESSAGE_BYTES
    return max(1, min(MAX_MESSAGE_BYTES, request - RECORD_OVERHEAD))


@dataclass(frozen=True)
class OutboxLimits:
    """What the cluster lets a connector write to its outbox, read before the first send."""

    max_message_bytes: int  # the largest event (key and value) sent; larger is a row error
    batch_size: int  # for the producer: a batch never exceeds what the topic accepts
    note: str = ""  # why the limit is an assumption, when it is


def outbox_limits(kafka, topic: str) -> OutboxLimits:
    """The outbox's limits from the cluster (the topic's ``max.message.bytes``).

    Found before sending, an event over the limit is a row error with a dead letter. Left to
    the broker, it would be refused after sending, and kafka-python 3.0.12's idempotent
    producer fails every later record after such a refusal."""
    from hub.kafka_io import PRODUCER_BATCH_BYTES, topic_message_bytes

    accepted, why = topic_message_bytes(kafka, topic)
    if accepted is None:
        return OutboxLimits(MAX_MESSAGE_BYTES, PRODUCER_BATCH_BYTES,
                            f"{why}: assuming Kafka's default limit")
    room = max(1, accepted - RECORD_OVERHEAD)
    return OutboxLimits(min(MAX_MESSAGE_BYTES, room), min(PRODUCER_BATCH_BYTES, room))


def too_large(size: int, limit: int) -> Problem:
    text = (f"the event is {size} bytes, more than the broker accepts ({limit} bytes): "
            "not published")
    return Problem(text, text)


@dataclass(frozen=True)
class Outcome:
    line: int
    kind: str  # event | rejected | duplicate | superseded
    envelope: Envelope | None = None
    problems: tuple[str, ...] = ()
    value: bytes | None = None  # the encoded event (kind "event")
    encodings: bytes | None = None  # the child's linkage encodings, with its first event
    person: Person | None = field(default=None, repr=False)  # for the encodings only


@dataclass
class Summary:
    rows: int = 0
    published: int = 0
    rejected: int = 0
    duplicates: int = 0
    superseded: int = 0
    unacknowledged: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        return self.rows - self.rejected - self.duplicates - self.superseded

    def describe(self, topic: str, dry_run: bool = False) -> str:
        """One line for people: rows read, events published, rejected, duplicates."""
        parts = [f"{counted(self.rows, 'row')} read",
                 f"{counted(self.events, 'event')} "
                 + ("would be published" if dry_run else f"published to {topic}"),
                 f"{counted(self.rejected, 'row')} rejected"]
        if self.rejected and not dry_run:
            parts[-1] += " (dead-lettered to hub.dlq)"
        if self.duplicates:
            parts.append(f"{counted(self.duplicates, 'duplicate row')} skipped")
        if self.superseded:
            parts.append(f"{counted(self.superseded, 'older consent state')} superseded")
        return ", ".join(parts)

    def count(self, outcome: Outcome) -> None:
        self.rows += 1
        if outcome.kind == "rejected":
            self.rejected += 1
        elif outcome.kind == "duplicate":
            self.duplicates += 1
        elif outcome.kind == "superseded":
            self.superseded += 1


def choose_format(path: Path, columns: tuple[str, ...], agency: Agency,
                  forced: str | None = None) -> str:
    """The export format of a file, from its header (or ``forced``), checked against the
    agency's kind."""
    if forced:
        if forced not in FORMAT_NAMES:
            raise InputError(f"unknown format {forced!r}; known: {', '.join(FORMAT_NAMES)}")
        name = forced
    elif "Einwilligungs-ID" in columns:
        name = CONSENT
    else:
        present = {n: len(set(f.columns) & set(columns)) for n, f in FORMATS.items()}
        name = max(present, key=present.get)
        if present[name] < len(FORMATS[name].columns) // 2:
            raise InputError(
                f"{path.name}: unknown export format: its columns ({'; '.join(columns)}) "
                f"match none of {', '.join(FORMAT_NAMES)}")
    if name != CONSENT and agency.kind not in FORMATS[name].kinds:
        raise InputError(
            f"{path.name} is a {name} export, but {agency.id} is a {agency.kind} agency "
            "(pass --agency or --format if the file name is wrong)")
    return name


class Conversion:
    """One export file on its way to events: checked as a whole, then streamed row by row."""

    def __init__(self, path: Path, agencies: AgencyDirectory, key: PseudonymKey,
                 agency_id: str | None = None, encoding: str | None = None,
                 format_name: str | None = None, max_message_bytes: int = MAX_MESSAGE_BYTES):
        self.path = Path(path)
        self.max_message_bytes = max_message_bytes
        agency_id = agency_id or agency_from_filename(self.path)
        if not agency_id:
            raise InputError(f"{self.path.name}: cannot tell the agency from the file name; "
                             "name it <agency-id>_export.csv or pass --agency")
        agency = agencies.get(agency_id)
        if agency is None:
            raise InputError(f"{agency_id!r} is not an agency of deploy/agencies.yaml")
        if not agency.exchanges_events:
            raise InputError(f"{agency_id} is a {agency.kind} agency: it has no outbox")
        columns = read_columns(self.path, encoding)
        self.format = choose_format(self.path, columns, agency, format_name)
        required = CONSENT_COLUMNS if self.format == CONSENT else FORMATS[self.format].columns
        self.export: ExportFile = open_export(self.path, required, encoding)
        self.agency_id = agency_id
        self.topic = agency.outbox
        self.agencies = agencies
        self.key = key
        self.linkage_key = linkage_key(key)
        self.linkage_topic: str | None = LINKAGE_TOPIC  # None: no encodings are made or sent
        self.summary = Summary()

    def outcomes(self) -> Iterator[Outcome]:
        """Every row's outcome, in file order for event exports; counted in ``summary``.
        An event comes encoded (``value``); one larger than ``max_message_bytes`` is a
        rejected row. A child's first event in the file brings its linkage encodings."""
        source = self._consent_outcomes() if self.format == CONSENT else self._event_outcomes()
        codec = get_codec()
        seen: set[int] = set()  # 128-bit event ids: about 60 bytes a row
        encoded = RecentChildren(ENCODED_REMEMBERED)
        for outcome in source:
            if outcome.kind == "event":
                id_int = uuid.UUID(outcome.envelope.id).int
                if id_int in seen:
                    outcome = Outcome(outcome.line, "duplicate")
                else:
                    outcome = self._encoded(outcome, codec, encoded)
                seen.add(id_int)
            self.summary.count(outcome)
            yield outcome

    def _encoded(self, outcome: Outcome, codec, encoded: RecentChildren) -> Outcome:
        envelope = outcome.envelope
        value = codec.encode(envelope)
        size = len(value) + len(envelope.subject)  # the key is the subject
        if size > self.max_message_bytes:
            return Outcome(outcome.line, "rejected",
                           problems=(too_large(size, self.max_message_bytes),))
        encodings = None
        if self.linkage_topic is not None and not encoded.seen(envelope.subject):
            encoded.note(envelope.subject)
            p = outcome.person
            encodings = encode(self.linkage_key, p.given_name, p.family_name,
                               p.birth_date).to_bytes()
        return Outcome(outcome.line, "event", envelope, value=value, encodings=encodings)

    def _event_outcomes(self) -> Iterator[Outcome]:
        to_facts = FORMATS[self.format].to_facts
        for row in self.export.rows():
            try:
                facts = to_facts(RowReader(row), self.agency_id)
                envelope = build_envelope(facts, self.key, self.agencies)
            except RowError as exc:
                yield Outcome(row.line, "rejected", problems=tuple(exc.problems))
                continue
            yield Outcome(row.line, "event", envelope, person=facts.person)

    def _consent_outcomes(self) -> Iterator[Outcome]:
        for line, facts, problems in latest_states(self.export, self.agency_id):
            if problems:
                yield Outcome(line, "rejected", problems=tuple(problems))
            elif facts is None:
                yield Outcome(line, "superseded")
            else:
                try:
                    envelope = build_consent_envelope(facts, self.key, self.agencies)
                except RowError as exc:
                    yield Outcome(line, "rejected", problems=tuple(exc.problems))
                    continue
                yield Outcome(line, "event", envelope, person=facts.person)

    def pseudonym_changes(self) -> Iterator[PseudonymChange]:
        """Every row whose pseudonym differs from the one that releases before names in
        other scripts were transliterated computed (a name with letters outside the Latin
        script, whose letters were dropped then). Rows that cannot be read are left out."""
        for line, person in self._people():
            earlier = legacy_pseudonym(self.key, person.given_name, person.family_name,
                                       person.birth_date)
            try:
                now = pseudonym(self.key, person.given_name, person.family_name,
                                person.birth_date)
            except UnusableName:
                now = None
            if now != earlier:
                yield PseudonymChange(line, earlier, now)

    def _people(self):
        if self.format == CONSENT:
            for line, facts, _problems in latest_states(self.export, self.agency_id):
                if facts is not None:
                    yield line, facts.person
            return
        to_facts = FORMATS[self.format].to_facts
        for row in self.export.rows():
            try:
                yield row.line, to_facts(RowReader(row), self.agency_id).person
            except RowError:
                continue

    def describe_rejection(self, outcome: Outcome) -> str:
        return f"{self.path.name}, row {outcome.line}: " + "; ".join(outcome.problems)


@dataclass(frozen=True)
class PseudonymChange:
    """A row's pseudonym before and since transliteration; ``now`` None: the row has no
    pseudonym any more (a name with nothing left to compare), it is rejected."""

    line: int
    earlier: str
    now: str | None


@dataclass
class ConvertedFile:
    """A whole file converted in memory (small files: tests, the demo, --dry-run)."""

    conversion: Conversion
    events: list[Envelope]
    rejected: list[Outcome]

    @property
    def topic(self) -> str:
        return self.conversion.topic

    @property
    def duplicates(self) -> int:
        return self.conversion.summary.duplicates


def convert_file(path: Path, agencies: AgencyDirectory, key: PseudonymKey,
                 agency_id: str | None = None, encoding: str | None = None,
                 format_name: str | None = None) -> ConvertedFile:
    conversion = Conversion(path, agencies, key, agency_id, encoding, format_name)
    events, rejected = [], []
    for outcome in conversion.outcomes():
        if outcome.kind == "event":
            events.append(outcome.envelope)
        elif outcome.kind == "rejected":
            rejected.append(outcome)
    return ConvertedFile(conversion, events, rejected)
