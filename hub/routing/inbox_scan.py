"""Reading the inboxes back (Kafka): what a partition of every inbox holds, for the router's
seen-set (:mod:`hub.routing.delivered`) when a worker takes a partition over, and for an
erasure (the records of one child)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.contract.codec import peek_event_id
from hub.kafka_io import Kafka, read_partitions
from hub.routing.delivered import DELIVERED_AT_HEADER


def delivered_at(record) -> datetime:
    """When the hub delivered a record: its header (hub clock), else the record time."""
    for name, value in record.headers or ():
        if name == DELIVERED_AT_HEADER and value:
            try:
                return datetime.fromisoformat(value.decode())
            except ValueError:
                break
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


def scan_inbox_partition(bootstrap: Kafka, inboxes: dict[str, str], partition: int,
                         delivered, starts: dict[str, int] | None = None) -> tuple[int, dict]:
    """Read ``partition`` of every inbox (topic -> recipient) from ``starts[topic]`` (default:
    the beginning) up to its current end and ``delivered.add`` what is there; returns the
    number of records read and the end offset per inbox. Blocking: run it in an executor."""
    def visit(recipient, record):
        event_id = peek_event_id(record.value or b"")
        if event_id:
            delivered.add(recipient, event_id, delivered_at(record))

    return _read_inboxes(bootstrap, inboxes, partition, visit, starts or {})


def inbox_records_of(bootstrap: Kafka, inboxes: dict[str, str], partition: int,
                     subject: str) -> list[tuple[str, bytes]]:
    """(recipient, value) of every record keyed by ``subject`` in ``partition`` of every
    inbox, from the beginning: what the agencies received of one child (an erasure).
    Blocking: run it in an executor."""
    key = subject.encode()
    found: list[tuple[str, bytes]] = []

    def visit(recipient, record):
        if record.key == key and record.value:
            found.append((recipient, record.value))

    _read_inboxes(bootstrap, inboxes, partition, visit, {})
    return found


def _read_inboxes(bootstrap: Kafka, inboxes: dict[str, str], partition: int, visit,
                  starts: dict[str, int]) -> tuple[int, dict]:
    """``visit(recipient, record)`` for every record of ``partition`` of each inbox from
    ``starts[topic]`` up to its current end; returns the number read and the end offsets."""
    ends: dict = {}
    read = 0
    for record in read_partitions(bootstrap, list(inboxes), "unna-hub-router-scan",
                                  partition=partition, starts=starts, ends=ends):
        read += 1
        visit(inboxes[record.topic], record)
    return read, {tp.topic: end for tp, end in ends.items()}
