"""``hub ingest FILE``: read an agency export, pseudonymise, publish to the agency's outbox.

Bad rows are reported (file, row, every problem), counted and dead-lettered without the
identifying fields; the rest of the file is still published. A file that is unreadable as a
whole fails before anything is published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connectors import youth_office
from connectors.export_file import agency_from_filename, read_export
from connectors.rows import RowError
from hub.agencies import AgencyDirectory
from hub.contract.codec import get_codec
from hub.contract.models import Envelope
from hub.deadletter import DLQ_TOPIC, connector_dead_letter
from hub.errors import InputError
from hub.metrics import CONNECTOR_ROWS
from hub.settings import PseudonymKey

FORMATS = {youth_office.KIND: youth_office}


@dataclass
class RowRejection:
    line: int
    problems: list[str]

    def describe(self, path: Path) -> str:
        return f"{path.name}, row {self.line}: " + "; ".join(self.problems)


@dataclass
class Conversion:
    agency_id: str
    topic: str
    events: list[Envelope] = field(default_factory=list)
    rejected: list[RowRejection] = field(default_factory=list)
    duplicates: int = 0


def convert_file(
    path: Path, agencies: AgencyDirectory, key: PseudonymKey,
    agency_id: str | None = None, encoding: str | None = None,
) -> Conversion:
    """Pure part of ingest: file -> events and rejected rows (no Kafka)."""
    path = Path(path)
    agency_id = agency_id or agency_from_filename(path)
    if not agency_id:
        raise InputError(
            f"{path.name}: cannot tell the agency from the file name; name it "
            "<agency-id>_export.csv or pass --agency"
        )
    agency = agencies.get(agency_id)
    if agency is None:
        raise InputError(f"{agency_id!r} is not an agency of deploy/agencies.yaml")
    fmt = FORMATS.get(agency.kind)
    if fmt is None:
        raise InputError(
            f"exports of {agency.kind} agencies ({agency_id}) are not supported yet; "
            f"supported: {', '.join(sorted(FORMATS))}"
        )
    export = read_export(path, fmt.COLUMNS, encoding)
    result = Conversion(agency_id, agency.outbox)
    seen: set[str] = set()
    for row in export.rows:
        try:
            envelope = fmt.to_envelope(row, agency_id, key, agencies)
        except RowError as exc:
            result.rejected.append(RowRejection(row.line, exc.problems))
            continue
        if envelope.id in seen:
            result.duplicates += 1
            continue
        seen.add(envelope.id)
        result.events.append(envelope)
    return result


def publish(
    conversion: Conversion, path: Path, producer, progress: Callable[[str], None] = print
) -> None:
    """Send events to the outbox and rejected rows to the dead-letter topic; wait for acks."""
    codec = get_codec()
    futures = [
        producer.send(conversion.topic, key=e.subject.encode(), value=codec.encode(e))
        for e in conversion.events
    ]
    for rejection in conversion.rejected:
        progress(f"rejected: {rejection.describe(path)}")
        futures.append(producer.send(
            DLQ_TOPIC,
            key=conversion.agency_id.encode(),
            value=connector_dead_letter(
                conversion.agency_id, path.name, rejection.line, rejection.problems
            ),
        ))
    producer.flush()
    for future in futures:
        future.get(timeout=30)  # raises if any send failed
    CONNECTOR_ROWS.labels(agency=conversion.agency_id, result="published").inc(
        len(conversion.events))
    CONNECTOR_ROWS.labels(agency=conversion.agency_id, result="rejected").inc(
        len(conversion.rejected))
    CONNECTOR_ROWS.labels(agency=conversion.agency_id, result="duplicate").inc(
        conversion.duplicates)
